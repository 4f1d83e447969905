"""Cost of the sparse encoders on an index's page texts: ms per page and per query, terms per page.

The ingest and query-time price of ``bm25-bigrams`` against ``bm25`` (issue 16's budget: ingest
no more than 10% slower, query embedding no more than 10 ms slower).

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sparse_encoders.py \\
        /tmp/ev-long ../shared/devset-long/queries.jsonl
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pagerag.ingest.catalog import Catalog
from pagerag.pipelines.evaluation.queries import load_queries
from pagerag.retriever.embedders.bm25 import Bm25BigramEncoder, Bm25Encoder


def best_of(rounds: int, fn: object) -> float:
    """The fastest of ``rounds`` calls of ``fn``, in seconds."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path, help="an index directory (its catalog's page texts are read)")
    parser.add_argument("queries", type=Path)
    args = parser.parse_args()
    catalog = Catalog.open(args.index)
    texts = [p.text for d in catalog.documents() for p in catalog.pages(d.doc_id)]
    catalog.close()
    queries = [q.query for q in load_queries(args.queries).queries]
    print(f"{len(texts)} pages, {len(queries)} queries\n")
    print("| encoder | ms per page | terms per page (mean) | ms per query |\n|---|---|---|---|")
    for enc in (Bm25Encoder(), Bm25BigramEncoder()):
        page_s = best_of(3, lambda e=enc: e.embed_passages(texts))
        query_s = best_of(3, lambda e=enc: [e.embed_queries([q]) for q in queries])
        terms = sum(len(v.indices) for v in enc.embed_passages(texts)) / max(len(texts), 1)
        per_page, per_query = 1000 * page_s / len(texts), 1000 * query_s / len(queries)
        print(f"| {enc.name} | {per_page:.2f} | {terms:.0f} | {per_query:.3f} |")


if __name__ == "__main__":
    main()
