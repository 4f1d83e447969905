"""A deterministic hash embedder for unit tests of store and search logic (not a model).

Each word maps to a fixed random unit vector (seeded by its hash), so a query shares
vector mass with the pages that contain its words: dense = normalised mean, multi = one
row per word, pooled = means of groups of 4 rows, sparse = word ids with counts.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from pagerag.ingest.types import Page
from pagerag.retriever.types import EmbedderSpec, Embedding, SparseVector, VectorSpec

WORD = re.compile(r"\w+")


def _word_vec(word: str, dim: int) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(word.encode("utf-8")))
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.where(n == 0, 1, n)).astype(np.float32)


class HashEmbedder:
    """Implements the Embedder protocol with hashed word vectors."""

    def __init__(self, dense_dim: int = 32, multi_dim: int = 16, *, name: str = "hash") -> None:
        self.dense_dim = dense_dim
        self.multi_dim = multi_dim
        self.calls = 0
        self._spec = EmbedderSpec(
            dense=VectorSpec("dense", dense_dim),
            multi=VectorSpec("multi", multi_dim, multivector=True, datatype="float16", hnsw=False),
            pooled=VectorSpec("pooled", multi_dim, multivector=True),
            sparse="sparse",
            models={"dense": f"{name}-dense", "multi": f"{name}-multi", "sparse": f"{name}-sparse"},
        )

    @property
    def spec(self) -> EmbedderSpec:
        return self._spec

    def _embed(self, text: str) -> Embedding:
        words = [w.lower() for w in WORD.findall(text)] or ["<empty>"]
        dense = _unit(np.mean([_word_vec(w, self.dense_dim) for w in words], axis=0))
        multi = np.stack([_word_vec(w, self.multi_dim) for w in words])
        pooled = _unit(np.stack([multi[i : i + 4].mean(axis=0) for i in range(0, len(multi), 4)]))
        counts = Counter(zlib.crc32(w.encode("utf-8")) % (1 << 20) for w in words if w != "<empty>")
        ids = sorted(counts)
        sparse = SparseVector(tuple(ids), tuple(float(counts[i]) for i in ids))
        return Embedding(dense=dense, multi=multi, sparse=sparse, pooled=pooled)

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        self.calls += 1
        return [self._embed(p.text) for p in pages]

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        self.calls += 1
        return [self._embed(t) for t in texts]


class DenseOnlyEmbedder(HashEmbedder):
    """Only a dense vector: modes that need more raise, hybrid degrades to fusion."""

    def __init__(self) -> None:
        super().__init__(name="dense-only")
        self._spec = EmbedderSpec(dense=VectorSpec("dense", self.dense_dim), models={"dense": "dense-only"})

    def _embed(self, text: str) -> Embedding:
        return Embedding(dense=super()._embed(text).dense)
