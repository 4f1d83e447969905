"""`pagerag list` and `pagerag remove PATH`: what the index holds, and taking a document out."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.pipeline import remove_documents
from pagerag.pipelines.cli import add_index_option, add_qdrant_option, qdrant_url
from pagerag.pipelines.commands.ingest import open_sink


def register(sub: Any) -> None:
    lister: argparse.ArgumentParser = sub.add_parser("list", help="list the documents in the index")
    add_index_option(lister)
    lister.add_argument("--json", action="store_true", help="print one JSON array")
    lister.set_defaults(func=run_list)

    remover: argparse.ArgumentParser = sub.add_parser("remove", help="remove a document from the index")
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
        print("[]" if args.json else f"no index at {args.index}")
        return 0
    with Catalog.open(args.index) as catalog:
        docs = catalog.documents()
    if args.json:
        rows = [
            {"source": d.source, "pages": d.pages, "doc_id": d.doc_id, "indexed_at": d.indexed_at}
            for d in docs
        ]
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for d in docs:
        print(f"{d.pages:5d}  {d.indexed_at}  {d.doc_id[:12]}  {d.source}")
    print(f"{len(docs)} documents, {sum(d.pages for d in docs)} pages")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    if not (Path(args.index) / "catalog.sqlite").exists():
        print(f"pagerag remove: error: no index at {args.index}", file=sys.stderr)
        return 1
    with Catalog.open(args.index) as catalog:
        doc_ids = matching(catalog, args.path)
        if not doc_ids:
            print(f"pagerag remove: error: {args.path} is not in the index {args.index}", file=sys.stderr)
            return 1
        url = qdrant_url(args)
        sink = open_sink(args.index, url)
        try:
            remove_documents(doc_ids, catalog=catalog, sink=sink)
        finally:
            sink.close()
        for doc_id in doc_ids:
            print(f"removed {doc_id[:12]}")
    return 0


def matching(catalog: Catalog, given: str) -> list[str]:
    """Documents named by ``given``: a source, a file path, a folder that holds them, or an id prefix."""
    wanted = Path(os.path.abspath(given))
    found = []
    for doc_id, (path, source) in catalog.locations().items():
        if (
            source == given
            or path == wanted
            or path.is_relative_to(wanted)
            or (len(given) >= 8 and doc_id.startswith(given))
        ):
            found.append(doc_id)
    return sorted(found)
