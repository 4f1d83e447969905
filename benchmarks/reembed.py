"""Build an index with other models or BM25 options from an existing index's pages, without re-reading files.

Ingestion's cost is rendering and OCR; a model or tokenizer ablation only needs the page texts
the catalog already holds. This copies the catalog and embeds every page again into a new
index directory (the source index is only read), so ``benchmarks/recipe_ablation.py`` can
compare models on identical page text.

Run::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/reembed.py /tmp/ev-devset /tmp/e5t-devset \\
        --multi e5-tokens
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from pagerag.ingest.catalog import Catalog
from pagerag.retriever.embedders.registry import DEFAULT_MODELS
from pagerag.retriever.index import PageIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    for role in ("dense", "multi", "sparse"):
        parser.add_argument(f"--{role}", default=DEFAULT_MODELS[role])
    args = parser.parse_args()
    if args.target.exists():
        raise SystemExit(f"{args.target} exists")
    args.target.mkdir(parents=True)
    shutil.copy(args.source / "catalog.sqlite", args.target / "catalog.sqlite")
    catalog = Catalog.open(args.target)
    index = PageIndex.open(
        args.target, models={"dense": args.dense, "multi": args.multi, "sparse": args.sparse}
    )
    start, pages = time.perf_counter(), 0
    for doc in catalog.documents():
        found = catalog.pages(doc.doc_id)
        index.write(doc, found)
        index.publish(doc.doc_id)
        pages += len(found)
    index.flush()
    took = time.perf_counter() - start
    print(f"{pages} pages in {took:.0f} s ({pages / took:.2f} pages/s): {index}")
    index.close()
    catalog.close()


if __name__ == "__main__":
    main()
