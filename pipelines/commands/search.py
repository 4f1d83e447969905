"""`pagerag search`: ranked pages for a query, or a batch of queries as JSON lines.

    pagerag search "revenue by region" [--index DIR] [-k 10] [--mode hybrid] [--filter source=reports/*.pdf]
    pagerag search --queries queries.jsonl --json [--scope doc]

``--json`` prints ``{"query", "hits"}``; batch mode one line per query, ``{"id", "hits"}``; each hit has
the one hit shape (:mod:`pagerag.retriever.shape`, ``docs/json.md``).
With ``--scope doc`` each query searches only the document named by its ``doc`` field.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import ConfigError
from pagerag.pipelines.cli import (
    add_filter_option,
    add_index_option,
    add_qdrant_option,
    qdrant_api_key,
    qdrant_url,
    server_for,
)
from pagerag.pipelines.core import PageRAG, check_search
from pagerag.pipelines.serve.client import RemoteRAG
from pagerag.retriever.index import read_meta
from pagerag.retriever.shape import hit_json
from pagerag.retriever.types import MODES, Hit, SearchFilter


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "search",
        help="find the pages that answer a query",
        description="Search an index: ranked pages (source, page, score, snippet) or JSON.",
    )
    parser.add_argument("query", nargs="?", help="the query (omit with --queries)")
    add_index_option(parser)
    parser.add_argument("-k", type=int, default=10, help="pages to return (default 10)")
    parser.add_argument("--mode", choices=MODES, default="hybrid", help="retrieval mode (default hybrid)")
    parser.add_argument("--prefetch", type=int, default=None, help="candidates per first stage (default 50)")
    add_filter_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--queries", type=Path, help="JSON lines with id and query: one result line per query"
    )
    parser.add_argument(
        "--scope",
        choices=("corpus", "doc"),
        default="corpus",
        help="with --queries: 'doc' searches only the document in each line's doc field",
    )
    add_qdrant_option(parser)
    parser.set_defaults(func=run)


def _read_queries(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read queries ({exc.strerror or exc})") from exc
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{path}:{n}: not JSON ({exc})") from exc
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("query"), str):
            raise ConfigError(f"{path}:{n}: each line needs an 'id' and a 'query' string")
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    from pagerag.retriever.search import parse_filters

    if (args.query is None) == (args.queries is None):
        print("pagerag search: give a query or --queries FILE", file=sys.stderr)
        return 2
    if args.scope == "doc" and args.queries is None:
        print("pagerag search: --scope doc needs --queries", file=sys.stderr)
        return 2
    try:
        base = parse_filters(args.filter)
        check_search([args.query] if args.query is not None else [], args.k, args.mode)
    except ConfigError as exc:
        print(f"pagerag search: {exc}", file=sys.stderr)
        return 2
    rows = _read_queries(args.queries) if args.queries is not None else []
    remote = server_for(args) if args.prefetch is None else None
    if remote is not None:
        with remote:
            return _through_server(args, remote, rows)
    url = qdrant_url(args)
    if url is None and read_meta(args.index) is None:
        raise ConfigError(f"no index at {args.index}: run `pagerag ingest FOLDER --index {args.index}` first")
    with PageRAG.open(args.index, qdrant_url=url, api_key=qdrant_api_key()) as rag:
        index = rag.index
        if args.queries is None:
            hits = index.search(args.query, k=args.k, mode=args.mode, prefetch=args.prefetch, filter=base)
            _print_hits(args.query, hits, as_json=args.json)
            return 0
        filters: list[SearchFilter | None] = [base] * len(rows)
        if args.scope == "doc":
            _warn_missing(rows, {d.source for d in rag.documents()})
            filters = [replace(base, sources=(str(r.get("doc")),)) for r in rows]
        results = index.search_many(
            [r["query"] for r in rows], k=args.k, mode=args.mode, prefetch=args.prefetch, filters=filters
        )
    _print_batch(args, rows, results)
    return 0


def _through_server(args: argparse.Namespace, remote: RemoteRAG, rows: list[dict[str, Any]]) -> int:
    from pagerag.pipelines.commands.ask import filter_items

    base = filter_items(args.filter)
    if args.queries is None:
        _print_hits(
            args.query, remote.search(args.query, k=args.k, mode=args.mode, filters=base), as_json=args.json
        )
        return 0
    if args.scope == "doc":
        _warn_missing(rows, {d.source for d in remote.documents()})
        results = [
            remote.search(
                r["query"], k=args.k, mode=args.mode, filters={**(base or {}), "source": str(r.get("doc"))}
            )
            for r in rows
        ]
    else:
        results = remote.search_many([r["query"] for r in rows], k=args.k, mode=args.mode, filters=base)
    _print_batch(args, rows, results)
    return 0


def _warn_missing(rows: list[dict[str, Any]], known: set[str]) -> None:
    missing = sorted({str(r.get("doc")) for r in rows} - known)
    if missing:
        print(f"pagerag search: not in the index: {', '.join(missing)}", file=sys.stderr)


def _print_batch(args: argparse.Namespace, rows: list[dict[str, Any]], results: list[list[Hit]]) -> None:
    for row, hits in zip(rows, results, strict=True):
        if args.json:
            print(json.dumps({"id": row["id"], "hits": [hit_json(h) for h in hits]}, ensure_ascii=False))
        else:
            _print_hits(str(row["query"]), hits, as_json=False)


def _print_hits(query: str, hits: list[Hit], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"query": query, "hits": [hit_json(h) for h in hits]}, ensure_ascii=False))
        return
    if not hits:
        print(f"no pages found for {query!r}")
        return
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:>3}. {hit.source}  p.{hit.page}  {hit.score:.4f}")
        print(f"     {hit.snippet(160)}")
