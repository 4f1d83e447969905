"""Hybrid recipe ablations through the real store: one built index, every variant, both scopes.

``pagerag eval`` measures one recipe per run and embeds every query again per mode. This
opens an index that ``pagerag eval`` built (read-only use: pass a copy if another process
may write it), embeds the queries once, and runs each recipe variant and each single mode
through :meth:`PageIndex.search_many` (the Qdrant engine, the page-reference step, the
query-language step), with ``pagerag eval``'s tie order, so the numbers are the pipeline's.

Run::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/recipe_ablation.py \\
        /tmp/ev-devset ../shared/devset/queries.jsonl --scopes corpus,doc
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pagerag.pipelines.evaluation.metrics import page_key, score_queries
from pagerag.pipelines.evaluation.queries import EvalQuery, load_queries
from pagerag.pipelines.evaluation.runfile import RankedPage
from pagerag.pipelines.evaluation.runner import canonical_ties
from pagerag.retriever.index import PageIndex
from pagerag.retriever.language import query_language
from pagerag.retriever.recipe import DEFAULT_RECIPE, HybridRecipe
from pagerag.retriever.types import Embedding, Mode, SearchFilter

D = replace(
    DEFAULT_RECIPE,
    languages=False,
    final=(1.0, 1.0, 0.0),
    final_across=None,
    final_fusion="dbsf",
    one_document_top=None,
)
VARIANTS: dict[str, tuple[Mode, HybridRecipe]] = {
    "dense": ("dense", D),
    "sparse": ("sparse", D),
    "multi": ("multi", D),
    "fusion": ("fusion", D),
    "D: dbsf(maxsim, sparse) (old default)": ("hybrid", D),
    "E: dbsf(maxsim, sparse, dense)": ("hybrid", replace(D, final=(1.0, 1.0, 1.0))),
    "W211: dbsf(2 maxsim, sparse, dense)": ("hybrid", replace(D, final=(2.0, 1.0, 1.0))),
    "W221: dbsf(2 maxsim, 2 sparse, dense)": ("hybrid", replace(D, final=(2.0, 2.0, 1.0))),
    "W321: dbsf(3 maxsim, 2 sparse, dense)": ("hybrid", replace(D, final=(3.0, 2.0, 1.0))),
    "W121: dbsf(maxsim, 2 sparse, dense)": ("hybrid", replace(D, final=(1.0, 2.0, 1.0))),
    "P100: D, prefetch 100": ("hybrid", replace(D, prefetch=100)),
    "R30: D, rerank 30": ("hybrid", replace(D, rerank=30)),
    "RRF: final rrf maxsim:sparse:dense 2:2:1": (
        "hybrid",
        replace(D, final=(2.0, 2.0, 1.0), final_fusion="rrf"),
    ),
    "LM: D, dense in MaxSim's place off English": ("hybrid", replace(D, languages=True)),
    "LME: E, dense in MaxSim's place off English": (
        "hybrid",
        replace(D, languages=True, final=(1.0, 1.0, 1.0)),
    ),
    "LMW: W211, dense in MaxSim's place off English": (
        "hybrid",
        replace(D, languages=True, final=(2.0, 1.0, 1.0)),
    ),
    "LMS: LM, + dense in the final fusion across documents": (
        "hybrid",
        replace(D, languages=True, final_across=(1.0, 1.0, 1.0)),
    ),
    "DS: D, + dense in the final fusion across documents": (
        "hybrid",
        replace(D, final_across=(1.0, 1.0, 1.0)),
    ),
    "LMS1: LMS, within-document order when the best 5 pages are of one document": (
        "hybrid",
        replace(D, languages=True, final_across=(1.0, 1.0, 1.0), one_document_top=5),
    ),
    "LMS1-3: LMS1 at 3 pages": (
        "hybrid",
        replace(D, languages=True, final_across=(1.0, 1.0, 1.0), one_document_top=3),
    ),
    "LMS1-10: LMS1 at 10 pages": (
        "hybrid",
        replace(D, languages=True, final_across=(1.0, 1.0, 1.0), one_document_top=10),
    ),
    "LMS221: LMS, final across documents 2 maxsim, 2 sparse, dense": (
        "hybrid",
        replace(D, languages=True, final_across=(2.0, 2.0, 1.0)),
    ),
    "LMS-121: LMS, final within a document maxsim, 2 sparse": (
        "hybrid",
        replace(D, languages=True, final=(1.0, 2.0, 0.0), final_across=(1.0, 1.0, 1.0)),
    ),
    "LMS-211: LMS, final within a document 2 maxsim, sparse": (
        "hybrid",
        replace(D, languages=True, final=(2.0, 1.0, 0.0), final_across=(1.0, 1.0, 1.0)),
    ),
    "current default": ("hybrid", DEFAULT_RECIPE),
}


def run(
    index: PageIndex, queries: list[EvalQuery], embeddings: list, mode: Mode, recipe: HybridRecipe, scope: str
) -> dict[str, dict[str, float]]:
    index.recipe = recipe
    filters = [SearchFilter(sources=(q.doc,)) if scope == "doc" else None for q in queries]
    hits = index.search_many(
        [q.query for q in queries], k=10, mode=mode, filters=filters, embeddings=embeddings
    )
    ranked = {
        q.id: [
            page_key(r.source, r.page)
            for r in canonical_ties([RankedPage(h.source, h.page, h.score) for h in hs])
        ]
        for q, hs in zip(queries, hits, strict=True)
    }
    gold = {q.id: [page_key(q.doc, p) for p in q.pages] for q in queries}
    return score_queries(gold, ranked)


def timing(index: PageIndex, queries: list[EvalQuery], names: list[str]) -> None:
    """Median ms per query: language detection, query embedding, each variant's search (one query a call)."""
    texts = [q.query for q in queries]

    def median_ms(fn: Callable[[str, Embedding], object], rounds: int = 3) -> float:
        times = []
        for _ in range(rounds):
            for text, emb in zip(texts, embeddings, strict=True):
                start = time.perf_counter()
                fn(text, emb)
                times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)

    embeddings = index.embedder.embed_queries(texts)
    print("\n| step | ms per query (median) |\n|---|---|")
    print(f"| query language | {median_ms(lambda t, e: query_language(t)):.3f} |")
    print(f"| query embedding | {median_ms(lambda t, e: index.embedder.embed_queries([t]), 1):.1f} |")
    for name in names:
        mode, recipe = VARIANTS[name]
        index.recipe = recipe
        ms = median_ms(lambda t, e: index.search_many([t], k=10, mode=mode, embeddings=[e]))  # noqa: B023
        print(f"| search: {name} | {ms:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("queries", type=Path)
    parser.add_argument("--scopes", default="doc,corpus")
    parser.add_argument("--only", default="", help="comma-separated variant name prefixes")
    parser.add_argument("--json", type=Path, help="also write per-query nDCG@5 here")
    parser.add_argument("--timing", action="store_true", help="time language detection, embedding and search")
    args = parser.parse_args()
    queries = list(load_queries(args.queries).queries)
    index = PageIndex.open(args.index)
    have = {d.source for d in index.documents()}
    missing = [q for q in queries if q.doc not in have]
    if missing:  # as pagerag eval --no-ingest: queries on documents the index lacks are set aside
        print(f"{len(missing)} queries set aside (their documents are not in the index)")
        queries = [q for q in queries if q.doc in have]
    # One query a call, as search does (a batch pads queries together, which moves e5 vectors a little).
    embeddings = [index.embedder.embed_queries([q.query])[0] for q in queries]
    names = [n for n in VARIANTS if not args.only or any(n.startswith(p) for p in args.only.split(","))]
    scopes = args.scopes.split(",")
    print(f"| variant | {' | '.join(scopes)} |")
    print("|---|" + "---|" * len(scopes))
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    by_kind: dict[str, dict[str, float]] = {}
    for name in names:
        mode, recipe = VARIANTS[name]
        cells = []
        for scope in scopes:
            scores = run(index, queries, embeddings, mode, recipe, scope)
            per_query[f"{name}|{scope}"] = {q: s["ndcg@5"] for q, s in scores.items()}
            nd = statistics.fmean(s["ndcg@5"] for s in scores.values())
            r5 = statistics.fmean(s["recall@5"] for s in scores.values())
            cells.append(f"{nd:.3f} / {r5:.3f}")
            groups: dict[str, list[float]] = defaultdict(list)
            for q in queries:
                groups[q.modality or "-"].append(scores[q.id]["ndcg@5"])
            by_kind[f"{name}|{scope}"] = {g: statistics.fmean(v) for g, v in sorted(groups.items())}
        print(f"| {name} | {' | '.join(cells)} |", flush=True)
    kinds = sorted({g for row in by_kind.values() for g in row})
    print("\nnDCG@5 by page type (modality)\n")
    print(f"| variant, scope | {' | '.join(kinds)} |")
    print("|---|" + "---|" * len(kinds))
    for key, row in by_kind.items():
        cells = " | ".join(f"{row[g]:.3f}" if g in row else "-" for g in kinds)
        print(f"| {key.replace('|', ', ')} | {cells} |")
    if args.json:
        args.json.write_text(json.dumps(per_query, indent=1))
    if args.timing:
        timing(index, queries, names)
    index.close()


if __name__ == "__main__":
    main()
