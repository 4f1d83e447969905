"""LangChain adapter: :class:`PageRetriever`, a ``BaseRetriever`` over a :class:`PageIndex`.

Needs only the ``[langchain]`` extra (``langchain-core``); importing this module without
it raises :class:`~pagerag.ingest.errors.MissingDependency` with the install command.

Example:
    >>> from pagerag.retriever.langchain import PageRetriever  # doctest: +SKIP
    >>> retriever = PageRetriever.from_index(".pagerag", k=4)  # doctest: +SKIP
    >>> docs = retriever.invoke("What was revenue in 2023?")  # doctest: +SKIP
    >>> docs[0].metadata["source"], docs[0].metadata["page"]  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import MissingDependency
from pagerag.retriever.index import PageIndex
from pagerag.retriever.shape import hit_json
from pagerag.retriever.store.base import point_id
from pagerag.retriever.types import Hit, Mode, SearchFilter

try:  # this module *is* the LangChain adapter: its import needs langchain-core
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingDependency("langchain-core", "langchain") from exc


def hit_to_document(hit: Hit) -> Document:
    """A search hit as a LangChain ``Document``: the page text, with the one hit shape as metadata."""
    return Document(id=point_id(hit.doc_id, hit.page), page_content=hit.text, metadata=hit_json(hit))


class PageRetriever(BaseRetriever):
    """Retrieves pages from a :class:`PageIndex` (sync and async) as LangChain ``Document`` s.

    Attributes:
        index: the open index (injected; see :meth:`from_index` to open one by path).
        k: pages per query.
        mode: ``hybrid``, ``fusion``, ``dense``, ``sparse`` or ``multi``.
        filter: restricts every search (sources, glob, documents, pages, payload fields).
        prefetch: candidates per first stage (None: the index's recipe).
    """

    index: Any
    k: int = 4
    mode: Mode = "hybrid"
    filter: SearchFilter | None = None
    prefetch: int | None = None

    @classmethod
    def from_index(cls, path: str | Path, k: int = 4, mode: Mode = "hybrid", **kwargs: Any) -> PageRetriever:
        """Open the index at ``path`` with the models it was built with.

        ``kwargs`` go to :meth:`PageIndex.open` (``url``, ``api_key``, ...) except the
        retriever's own fields (``filter``, ``prefetch``).
        """
        own = {key: kwargs.pop(key) for key in ("filter", "prefetch") if key in kwargs}
        return cls(index=PageIndex.open(Path(path), **kwargs), k=k, mode=mode, **own)

    def _search(self, query: str) -> list[Document]:
        hits = self.index.search(query, k=self.k, mode=self.mode, prefetch=self.prefetch, filter=self.filter)
        return [hit_to_document(h) for h in hits]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self._search(query)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        # Embedding and the store call block: run them off the event loop.
        return await asyncio.to_thread(self._search, query)
