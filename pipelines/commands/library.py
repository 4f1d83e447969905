"""`pagerag list` and `pagerag remove PATH`: what the index holds, and taking a document out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pagerag.ingest.catalog import Catalog
from pagerag.pipelines.cli import add_index_option, add_qdrant_option, qdrant_api_key, qdrant_url, server_for
from pagerag.pipelines.core import named
from pagerag.pipelines.shapes import document_json


def register(sub: Any) -> None:
    lister: argparse.ArgumentParser = sub.add_parser(
        "list",
        help="list the documents in the index",
        description="The documents of the index: pages, indexed at, document id and source path.",
    )
    add_index_option(lister)
    lister.add_argument("--json", action="store_true", help="print one JSON array")
    lister.set_defaults(func=run_list)

    remover: argparse.ArgumentParser = sub.add_parser(
        "remove",
        help="remove a document from the index",
        description="Remove documents by source path, file path, folder or document id (8+ characters); "
        "their pages leave search at once.",
    )
    remover.add_argument(
        "path",
        metavar="PATH",
        help="the document's source (as `pagerag list` shows it), its file or a folder",
    )
    add_index_option(remover)
    add_qdrant_option(remover)
    remover.set_defaults(func=run_remove)


def run_list(args: argparse.Namespace) -> int:
    if not (Path(args.index) / "catalog.sqlite").exists():
        print(f"pagerag list: error: no index at {args.index}", file=sys.stderr)
        return 1
    with Catalog.open(args.index) as catalog:
        docs = catalog.documents()
    if args.json:
        print(json.dumps([document_json(d) for d in docs], ensure_ascii=False))
        return 0
    for d in docs:
        print(f"{d.pages:5d}  {d.indexed_at}  {d.doc_id[:12]}  {d.source}")
    print(f"{len(docs)} documents, {sum(d.pages for d in docs)} pages")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    if qdrant_url(args) is None and not (Path(args.index) / "catalog.sqlite").exists():
        print(f"pagerag remove: error: no index at {args.index}", file=sys.stderr)
        return 1
    remote = server_for(args)
    if remote is not None:
        with remote, Catalog.open(args.index) as catalog:
            doc_ids = named(catalog, args.path)
            removed = [d for doc_id in doc_ids for d in remote.remove(doc_id)]
    else:
        from pagerag.pipelines.core import PageRAG

        with PageRAG.open(args.index, qdrant_url=qdrant_url(args), api_key=qdrant_api_key()) as rag:
            removed = rag.remove(args.path)
    for doc_id in removed:
        print(f"removed {doc_id[:12]}")
    return 0
