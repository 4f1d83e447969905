"""The index as MCP tools: over stdio (``pagerag mcp``) or mounted at ``/mcp`` in ``pagerag serve``.

Four read-only tools: ``search_pages``, ``ask``, ``get_page`` (text and the page image)
and ``list_documents``. Bad input comes back as a tool error with a one-line reason the
agent can act on. Searches and answers embed with torch, so they run in a worker thread.

Example:
    >>> from pagerag import PageRAG
    >>> from pagerag.pipelines.serve.mcp import http_app
    >>> rag = PageRAG.open(".pagerag")  # doctest: +SKIP
    >>> asgi, mcp_lifespan = http_app(rag)  # doctest: +SKIP
    >>> app.mount("/mcp", asgi)  # doctest: +SKIP

Clients then connect to ``http://HOST:PORT/mcp/``.
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, TypeVar, cast

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from starlette.types import ASGIApp

from pagerag.ingest.errors import PageragError
from pagerag.pipelines.core import PageRAG
from pagerag.retriever.types import MAX_K, MODES, Mode

T = TypeVar("T")

INSTRUCTIONS = """\
pagerag holds a collection of documents (PDFs, slide decks, office files, scans) indexed page by page.
Find pages with search_pages, read one (its text and an image of the page) with get_page, or let
ask write a short answer that cites its pages. list_documents shows what the collection holds.
Page numbers are 1-based; doc_id and source name a document."""

_READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

# Bounds and choices are published in the schema but checked by PageRAG, whose one-line
# reasons read better to an agent than pydantic's multi-line validation report.
Query = Annotated[str, Field(description="What to look for: a question or keywords, in any language.")]
K = Annotated[
    int,
    Field(
        description=f"How many pages to return (1 to {MAX_K}).",
        json_schema_extra={"minimum": 1, "maximum": MAX_K},
    ),
]
SearchMode = Annotated[
    str,
    Field(
        description="Ranking: hybrid (default, best), dense, sparse (keywords), multi or fusion.",
        json_schema_extra={"enum": list(MODES)},
    ),
]
Source = Annotated[
    str | None,
    Field(description="Only pages of this document: its source as list_documents shows it, or a glob."),
]


class PageHit(BaseModel):
    """One page that matches a search."""

    doc_id: str = Field(description="The document's id (give it to get_page).")
    source: str = Field(description="The document's path in the collection.")
    title: str = Field(description="The document's title, or empty.")
    page: int = Field(description="1-based page number.")
    score: float = Field(description="Relevance; only the order within one search means something.")
    snippet: str = Field(description="The start of the page text.")


class SearchResult(BaseModel):
    """The pages of one search, best first."""

    hits: list[PageHit]


class CitedPage(BaseModel):
    """A page an answer cites as ``[n]``."""

    n: int = Field(description="The number the answer cites the page by.")
    doc_id: str
    source: str
    page: int


class AnswerResult(BaseModel):
    """An answer written from the indexed pages."""

    answer: str = Field(description="The answer, with [n] citation marks.")
    found: bool = Field(description="False when no indexed page seemed relevant; the answer then says so.")
    citations: list[CitedPage]


class DocumentEntry(BaseModel):
    """One document of the collection."""

    doc_id: str
    source: str = Field(description="The document's path in the collection.")
    title: str
    pages: int
    kind: str = Field(description="pdf, office, sheet, html, epub, image or text")
    indexed_at: str = Field(description="When it was indexed (ISO 8601, UTC).")


class DocumentList(BaseModel):
    """The documents of the collection, by source."""

    documents: list[DocumentEntry]


class PageContent(BaseModel):
    """One page: its text and what is known about it (the image comes as image content)."""

    doc_id: str
    source: str
    title: str
    page: int
    page_count: int
    text: str
    lang: str = Field(description="Language code, or empty.")
    ocr_used: bool = Field(description="Whether OCR produced part of the text (it may hold misreadings).")
    labels: list[int] = Field(description="Page numbers printed on the page.")
    has_image: bool = Field(description="Whether an image of the page follows the text.")


def build_server(rag: PageRAG) -> MCPServer:
    """The MCP server over ``rag``, with the four tools.

    Example:
        >>> server = build_server(rag)  # doctest: +SKIP
        >>> sorted(tool.name for tool in await server.list_tools())  # doctest: +SKIP
        ['ask', 'get_page', 'list_documents', 'search_pages']
    """
    # log_level=WARNING: MCPServer calls logging.basicConfig, which would lower the host's root level.
    server: MCPServer = MCPServer(
        "pagerag", instructions=INSTRUCTIONS, version=version("pagerag"), log_level="WARNING"
    )

    async def search_pages(
        query: Query, k: K = 5, mode: SearchMode = "hybrid", source: Source = None
    ) -> SearchResult:
        """Search the indexed documents for the pages that best match a question or keywords.

        Returns the pages best first, each with its doc_id, source, page number and a text
        snippet. Read a whole page (text and image) with get_page. Use source to search one
        document, e.g. after list_documents.
        """
        filters = {"source": source} if source else None
        hits = await _off_loop(lambda: rag.search(query, k=k, mode=cast(Mode, mode), filters=filters))
        return SearchResult(
            hits=[
                PageHit(
                    doc_id=h.doc_id,
                    source=h.source,
                    title=h.title,
                    page=h.page,
                    score=h.score,
                    snippet=h.snippet(),
                )
                for h in hits
            ]
        )

    async def ask(
        question: Annotated[str, Field(description="The question, in any language.")],
        k: Annotated[
            int,
            Field(
                description=f"How many of the best pages the answer is written from (1 to {MAX_K}).",
                json_schema_extra={"minimum": 1, "maximum": MAX_K},
            ),
        ] = 3,
    ) -> AnswerResult:
        """Answer a question from the indexed documents, citing the pages the answer comes from.

        The answer is short and marks its sources as [n]; citations lists each cited page. When
        no page seems relevant, found is false. To judge the evidence yourself, use search_pages
        and get_page instead.
        """
        answer = await _off_loop(lambda: rag.ask(question, k=k))
        return AnswerResult(
            answer=answer.text,
            found=answer.found,
            citations=[
                CitedPage(n=c.n, doc_id=answer.hits[c.n - 1].doc_id, source=c.source, page=c.page)
                for c in answer.citations
            ],
        )

    async def get_page(
        doc_id: Annotated[str, Field(description="The document's id, from search_pages or list_documents.")],
        page: Annotated[int, Field(description="1-based page number.")],
    ) -> Annotated[CallToolResult, PageContent]:
        """Read one page of a document: its full text, then an image of the page (JPEG).

        Look at the image for what text cannot hold: charts, tables, figures, layout,
        handwriting, or text that OCR may have misread.
        """
        view = await _off_loop(lambda: rag.page(doc_id, page))
        image = await _off_loop(lambda: _read(view.image_path))
        info = PageContent(
            doc_id=view.doc_id,
            source=view.source,
            title=view.title,
            page=view.page,
            page_count=view.page_count,
            text=view.text,
            lang=view.lang,
            ocr_used=view.ocr_used,
            labels=list(view.labels),
            has_image=image is not None,
        )
        heading = f"{view.source}, page {view.page} of {view.page_count} (doc_id {view.doc_id})"
        content: list[ContentBlock] = [TextContent(type="text", text=f"{heading}\n\n{view.text}")]
        if image is not None:
            content.append(
                ImageContent(
                    type="image", data=base64.b64encode(image).decode("ascii"), mime_type="image/jpeg"
                )
            )
        return CallToolResult(content=content, structured_content=info.model_dump(mode="json"))

    async def list_documents() -> DocumentList:
        """List the indexed documents: doc_id, source path, title, page count and kind of each."""
        docs = await _off_loop(rag.documents)
        return DocumentList(
            documents=[
                DocumentEntry(
                    doc_id=d.doc_id,
                    source=d.source,
                    title=d.title,
                    pages=d.pages,
                    kind=d.kind,
                    indexed_at=d.indexed_at,
                )
                for d in docs
            ]
        )

    for tool in (search_pages, ask, get_page, list_documents):
        # The docstring is what the agent reads: without the source's indentation.
        server.add_tool(tool, description=inspect.cleandoc(tool.__doc__ or ""), annotations=_READ_ONLY)
    return server


def run_stdio(rag: PageRAG) -> None:
    """Serve the tools over stdin/stdout until the client closes them (``pagerag mcp --index DIR``).

    While it serves, stray writes to stdout go to stderr (the SDK diverts file descriptor 1).
    """
    build_server(rag).run("stdio")


def http_app(
    rag: PageRAG, *, host: str = "127.0.0.1"
) -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    """The tools as a streamable-HTTP ASGI app, and the context manager that must run around it.

    Mount the app at ``/mcp``; clients then connect to ``http://HOST:PORT/mcp/`` (``/mcp``
    answers with a 307 to it, which MCP clients follow). The server is stateless and answers
    in plain JSON: the tools are request and answer, so no session is kept between requests
    and a restart breaks no client.

    Args:
        rag: the open index.
        host: the address the server listens on; on a loopback one the SDK's DNS-rebinding
            protection admits only loopback ``Host`` and ``Origin`` headers.

    Returns:
        The ASGI app, and a factory of the context manager that runs its session manager; enter
        it once, in the host app's lifespan (a mounted app's own lifespan never runs).

    Example:
        >>> asgi, mcp_lifespan = http_app(rag)  # doctest: +SKIP
        >>> app = FastAPI(lifespan=lambda app: mcp_lifespan())  # doctest: +SKIP
        >>> app.mount("/mcp", asgi)  # doctest: +SKIP
    """
    server = build_server(rag)
    app = server.streamable_http_app(
        streamable_http_path="/", stateless_http=True, json_response=True, host=host
    )
    return app, server.session_manager.run


async def _off_loop(work: Callable[[], T]) -> T:
    """``work()`` in a worker thread; a pagerag error becomes a one-line tool error."""
    try:
        return await anyio.to_thread.run_sync(work)
    except PageragError as exc:
        raise ToolError(" ".join(str(exc).split())) from None


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path is not None else None
