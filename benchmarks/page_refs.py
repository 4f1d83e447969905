"""Page references on and off: nDCG@5 of hybrid search on devset-long, doc and corpus scope.

Runs every query of ``../shared/devset-long/queries.jsonl`` through ``PageIndex.search_many``
on an index that holds the set's documents, with ``HybridRecipe.page_refs`` off and on.

Run: ``.venv/bin/python benchmarks/page_refs.py INDEX_DIR``
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import replace
from pathlib import Path

from pagerag.retriever.index import PageIndex
from pagerag.retriever.types import SearchFilter

QUERIES = Path(__file__).resolve().parents[2] / "shared" / "devset-long" / "queries.jsonl"


def ndcg(hits: list[tuple[str, int]], gold: set[tuple[str, int]], k: int = 5) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, h in enumerate(hits[:k]) if h in gold)
    return dcg / sum(1 / math.log2(i + 2) for i in range(min(k, len(gold))))


def main() -> None:
    queries = [json.loads(line) for line in QUERIES.read_text().splitlines() if line.strip()]
    with PageIndex.open(Path(sys.argv[1])) as index:
        base = index.recipe
        for refs in (False, True):
            index.recipe = replace(base, page_refs=refs)
            for scope in ("corpus", "doc"):
                filters = [SearchFilter(sources=(q["doc"],)) if scope == "doc" else None for q in queries]
                results = index.search_many([q["query"] for q in queries], k=10, filters=filters)
                values = [
                    ndcg([(h.source, h.page) for h in hits], {(q["doc"], p) for p in q["pages"]})
                    for q, hits in zip(queries, results, strict=True)
                ]
                print(f"page_refs={refs} scope={scope} nDCG@5={sum(values) / len(values):.3f}")


if __name__ == "__main__":
    main()
