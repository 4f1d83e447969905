"""The MCP tools through the SDK's own clients: over stdio (a child process) and streamable HTTP (uvicorn).

One small index of the sample documents serves both; each test holds it only while it runs,
because the embedded index admits one process at a time.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ImageContent, TextContent
from starlette.applications import Starlette
from starlette.routing import Mount

from pagerag.pipelines.core import PageRAG
from pagerag.pipelines.serve.mcp import http_app

REPORT = "fjordlys_quarterly_report_q4_2023.pdf"
TOOLS = {"search_pages", "ask", "get_page", "list_documents"}
QUESTION = "What was the total revenue in 2023 according to the chart in the quarterly report?"
# The stdio client passes the child only a safe subset of the environment.
CHILD_ENV = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def index_dir(sample_index: Path) -> Path:
    return sample_index


def test_stdio_serves_the_tools_to_the_sdk_client(index_dir: Path, tmp_path: Path) -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "pagerag.pipelines", "mcp", "--index", str(index_dir)],
        env=CHILD_ENV,
    )

    async def main() -> None:
        with (tmp_path / "server.log").open("w") as errlog:
            async with (
                stdio_client(server, errlog=errlog) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                await check_tools(session)

    try:
        anyio.run(main)
    except BaseException:
        print((tmp_path / "server.log").read_text(), file=sys.stderr)
        raise


def test_streamable_http_mounted_at_mcp(index_dir: Path) -> None:
    with PageRAG.open(index_dir) as rag, serve(rag) as base:

        async def main() -> None:
            async with session_at(f"{base}/mcp/") as session:
                await check_tools(session)
                answer = await call(session, "ask", {"question": QUESTION})
                assert answer["found"] and "4.2" in answer["answer"]
                assert (answer["citations"][0]["source"], answer["citations"][0]["page"]) == (REPORT, 2)
                assert len(answer["citations"][0]["doc_id"]) == 64
            # Without the slash the mount answers 307 to /mcp/, which the SDK client follows.
            async with session_at(f"{base}/mcp") as session:
                assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS

        anyio.run(main)


async def check_tools(session: ClientSession) -> None:
    """What both transports must serve: the four tools, their results, one-line errors."""
    assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS

    found = await call(session, "search_pages", {"query": "total revenue 2023"})
    top = found["hits"][0]
    assert (top["source"], top["page"]) == (REPORT, 2)
    assert "revenue" in top["snippet"].lower() and len(found["hits"]) == 5

    slides = await call(session, "search_pages", {"query": "production", "k": 2, "source": "seasense_*"})
    assert {hit["source"] for hit in slides["hits"]} == {"seasense_production_flow.pptx"}

    documents = (await call(session, "list_documents", {}))["documents"]
    assert sorted(d["source"] for d in documents)[1] == REPORT
    assert {d["source"]: d["pages"] for d in documents}[REPORT] == 3

    result = await session.call_tool("get_page", {"doc_id": top["doc_id"], "page": 2})
    assert not result.is_error
    text, image = result.content
    assert isinstance(text, TextContent) and "4.2" in text.text and REPORT in text.text
    assert isinstance(image, ImageContent) and image.mime_type == "image/jpeg"
    assert base64.b64decode(image.data)[:3] == b"\xff\xd8\xff"
    assert result.structured_content is not None
    assert result.structured_content["page_count"] == 3 and result.structured_content["has_image"]

    bad_calls: list[tuple[str, dict[str, Any], str]] = [
        ("search_pages", {"query": "  "}, "the query is empty"),
        ("search_pages", {"query": "revenue", "k": 0}, "k must be between 1 and 100"),
        ("search_pages", {"query": "revenue", "k": 101}, "k must be between 1 and 100"),
        ("search_pages", {"query": "revenue", "mode": "best"}, "unknown search mode"),
        ("ask", {"question": ""}, "the question is empty"),
        ("get_page", {"doc_id": "f" * 64, "page": 1}, "no document"),
        ("get_page", {"doc_id": top["doc_id"], "page": 9}, "has pages 1-3, not 9"),
    ]
    for name, arguments, reason in bad_calls:
        failed = await session.call_tool(name, arguments)
        assert failed.is_error, (name, arguments)
        message = one_text(failed)
        assert reason in message and "\n" not in message and "Traceback" not in message


async def call(session: ClientSession, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await session.call_tool(name, arguments)
    assert not result.is_error, one_text(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def one_text(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


@contextlib.asynccontextmanager
async def session_at(url: str) -> AsyncIterator[ClientSession]:
    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@contextlib.contextmanager
def serve(rag: PageRAG) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, the MCP app mounted as `pagerag serve` mounts it."""
    asgi, mcp_lifespan = http_app(rag)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with mcp_lifespan():
            yield

    app = Starlette(routes=[Mount("/mcp", app=asgi)], lifespan=lifespan)
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.02)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
