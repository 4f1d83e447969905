"""Calibrate the answer step's "nothing relevant" threshold (``pagerag.pipelines.answer.relevance``).

Questions that have their answer in the index (a query set over its own documents) against
questions about other documents (a second query set over the same index): the best page's
MaxSim score per query word for each, and how many of each a threshold keeps or refuses.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/relevance.py --index .pagerag-devset \
        --answerable ../shared/devset/queries.jsonl --foreign ../shared/devset-long/queries.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pagerag.pipelines.answer import DEFAULT_MIN_RELEVANCE, relevance
from pagerag.retriever.index import PageIndex


def _queries(path: Path) -> list[str]:
    return [json.loads(line)["query"] for line in path.read_text().splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--answerable", type=Path, required=True)
    parser.add_argument("--foreign", type=Path, required=True)
    args = parser.parse_args()
    with PageIndex.open(args.index) as index:
        good = np.array([relevance(index, q, []) for q in _queries(args.answerable)])
        foreign = np.array([relevance(index, q, []) for q in _queries(args.foreign)])
    print(
        f"answerable ({len(good)}): min {good.min():.3f}, "
        f"p5 {np.percentile(good, 5):.3f}, median {np.median(good):.3f}"
    )
    print(f"foreign ({len(foreign)}): median {np.median(foreign):.3f}, p90 {np.percentile(foreign, 90):.3f}")
    print("| threshold | answerable kept | foreign refused |\n|---|---|---|")
    for t in sorted({0.45, DEFAULT_MIN_RELEVANCE, 0.5, 0.55, 0.6}):
        print(f"| {t:.3f} | {(good >= t).mean():.3f} | {(foreign < t).mean():.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
