"""The embedder protocol: pages and queries to dense, multi and sparse vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pagerag.ingest.types import Page
from pagerag.retriever.types import EmbedderSpec, Embedding, SparseVector


class Embedder(Protocol):
    """Turns pages and queries into :class:`Embedding` values.

    ``embed_pages`` and ``embed_queries`` are asymmetric (query vs passage prompts);
    both return one embedding per input, in order.
    """

    @property
    def spec(self) -> EmbedderSpec: ...

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]: ...

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]: ...


class SparseEncoder(Protocol):
    """Turns page and query texts into sparse lexical vectors (BM25-style).

    ``name`` is the sparse vector's name in the store.
    """

    name: str

    def embed_passages(self, texts: Sequence[str]) -> list[SparseVector]: ...

    def embed_queries(self, texts: Sequence[str]) -> list[SparseVector]: ...
