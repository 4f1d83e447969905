"""`pagerag serve` (HTTP API + MCP at /mcp) and `pagerag mcp` (MCP over stdio): one process owns the index.

    pagerag serve [--index DIR] [--host 127.0.0.1] [--port 8000] [--api-key KEY] [--ingest-root DIR]
    pagerag mcp [--index DIR]

While a server runs, the other commands on its index go through it (it records its
address in the index directory).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import ConfigError
from pagerag.pipelines.cli import add_index_option, add_qdrant_option, qdrant_api_key, qdrant_url
from pagerag.pipelines.commands.ask import add_llm_options, build_cli_llm


def register(sub: Any) -> None:
    serve: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="serve the index over HTTP (API, MCP) so that many clients share it",
        description="One long-lived process owns the index: the HTTP API (OpenAPI at /docs), MCP at /mcp. "
        "Other pagerag commands on the same index go through it.",
    )
    add_index_option(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    serve.add_argument(
        "--api-key",
        default=None,
        help="bearer key every call must carry (default $PAGERAG_API_KEY); required off loopback",
    )
    serve.add_argument(
        "--ingest-root",
        type=Path,
        default=None,
        help="folder whose files clients may ingest by path (default: the current directory; "
        "'none': uploads only)",
    )
    add_llm_options(serve)
    serve.add_argument("--max-upload-mb", type=int, default=200, help="largest upload accepted (default 200)")
    serve.add_argument(
        "--workers", type=int, default=2, help="render/OCR processes per ingest job (default 2)"
    )
    serve.add_argument("--no-mcp", action="store_true", help="do not mount the MCP server at /mcp")
    add_qdrant_option(serve)
    serve.set_defaults(func=run_serve)

    mcp: argparse.ArgumentParser = sub.add_parser(
        "mcp",
        help="serve the index to an MCP client over stdio",
        description="An MCP server on stdin/stdout: tools search_pages, ask, get_page, list_documents.",
    )
    add_index_option(mcp)
    add_qdrant_option(mcp)
    mcp.set_defaults(func=run_mcp)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_serve(args: argparse.Namespace) -> int:
    api_key = args.api_key or os.environ.get("PAGERAG_API_KEY") or None
    if not is_loopback(args.host) and not api_key:
        print(
            f"pagerag serve: error: binding {args.host} exposes the index to the network: "
            "give --api-key KEY (or PAGERAG_API_KEY)",
            file=sys.stderr,
        )
        return 2
    root = _ingest_root(args.ingest_root)
    if root is not None and not root.is_dir():
        print(f"pagerag serve: error: --ingest-root {root} is not a folder", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535 or args.max_upload_mb < 1 or args.workers < 0:
        print("pagerag serve: error: --port, --max-upload-mb or --workers out of range", file=sys.stderr)
        return 2
    try:
        sock = socket.create_server((args.host, args.port), reuse_port=False)
        # Accepted connections inherit it. Without it, uvicorn's separate header and body sends wait
        # on the client's delayed ACK: 40 ms on every response (benchmarks/serve.py --tcp-nodelay).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:
        print(
            f"pagerag serve: error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    import uvicorn

    from pagerag.pipelines.core import PageRAG
    from pagerag.pipelines.serve.app import OFFERED_LLMS, Settings, create_app
    from pagerag.pipelines.serve.record import ServerRecord, remove_record, write_record

    llm = build_cli_llm(args)
    rag = PageRAG.open(args.index, qdrant_url=qdrant_url(args), api_key=qdrant_api_key(), llm=llm)
    _warm(rag)
    settings = Settings(
        api_key=api_key,
        ingest_root=root,
        max_upload_bytes=args.max_upload_mb * 1024 * 1024,
        ingest_workers=args.workers,
        mcp=not args.no_mcp,
        host=args.host,
        llms=(llm.name, *OFFERED_LLMS),
    )
    app = create_app(rag, settings)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}"
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    write_record(rag.index_dir, ServerRecord(url, os.getpid(), bool(api_key)))
    print(f"pagerag: serving {rag.index_dir} at {url}  (API docs {url}/docs, MCP {url}/mcp/)", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        remove_record(rag.index_dir, os.getpid())
        rag.close()
    return 0


def run_mcp(args: argparse.Namespace) -> int:
    from pagerag.pipelines.core import PageRAG
    from pagerag.pipelines.serve.mcp import run_stdio
    from pagerag.pipelines.serve.record import find_server

    if qdrant_url(args) is None:
        server = find_server(args.index)
        if server is not None:
            raise ConfigError(
                f"pagerag serve runs on {args.index}: connect your MCP client to {server.url}/mcp/ "
                "(streamable HTTP)"
            )
        if not (Path(args.index) / "index.json").exists():
            raise ConfigError(
                f"no index at {args.index}: run `pagerag ingest FOLDER --index {args.index}` first"
            )
    with PageRAG.open(args.index, qdrant_url=qdrant_url(args), api_key=qdrant_api_key()) as rag:
        run_stdio(rag)
    return 0


def _ingest_root(given: Path | None) -> Path | None:
    if given is None:
        return Path.cwd()
    return None if str(given).lower() == "none" else given.resolve()


def _warm(rag: Any) -> None:
    """Two searches before the first client: models loaded, the query path traced."""
    if rag.documents():
        for _ in range(2):
            rag.search("warm up", k=1)
