"""pagerag: folders of PDFs, slide decks and office documents as a searchable, answerable index of pages.

One object owns an open index::

    from pagerag import PageRAG

    with PageRAG.open(".pagerag") as rag:
        rag.ingest("docs/")
        print(rag.ask("What was the total revenue in 2023?").text)

The package's parts: :mod:`pagerag.ingest` (files to pages), :mod:`pagerag.retriever`
(embedding, the Qdrant store, hybrid search, LangChain) and :mod:`pagerag.pipelines`
(this core, the CLI, the HTTP/MCP server, evaluation). ``PageRAG`` is imported on first use,
so ``import pagerag`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pagerag.pipelines.core import PageRAG

__all__ = ["PageRAG"]


def __getattr__(name: str) -> Any:
    if name == "PageRAG":
        from pagerag.pipelines.core import PageRAG

        return PageRAG
    raise AttributeError(f"module 'pagerag' has no attribute {name!r}")
