"""Would a document-level prior fix corpus-scope misses (the wrong document)? Harness measurement.

In corpus scope most misses are pages of the wrong document. This adds to the default
hybrid's final score (plan D of ``quality.py``: DBSF of MaxSim and BM25, in [0, 2]) a
document prior: BM25 of the question against each document's whole text, divided by the
best document's score, times ``w``. Within one document the prior is the same for every
page, so doc-scope numbers cannot move; only the choice of document can. Page texts and
embeddings come from the harness caches (``quality_data.py``, ``quality.py``).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/doc_prior.py ../shared/devset ../shared/devset-long``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from quality import bm25_scores, evaluate, plan, setup, signals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("devsets", nargs="+", type=Path)
    parser.add_argument("--weights", default="0,0.25,0.5,1,2,4")
    args = parser.parse_args()
    weights = [float(w) for w in args.weights.split(",")]
    print("| set, corpus scope | " + " | ".join(f"w={w:g}" for w in weights) + " |")
    print("|---|" + "---|" * len(weights))
    for devset in args.devsets:
        pages, queries, gold, _, corpus = setup(devset, "eng")
        sig = signals(pages, queries, {"e5tok"})
        scores = {k: np.where(corpus, v, -1e9) for k, v in sig.items()}
        hybrid = plan(scores, corpus, final=(1, 1, 0), final_kind="dbsf")
        docs = sorted({p.doc for p in pages})
        whole = ["\n".join(p.text for p in pages if p.doc == d) for d in docs]
        column = {d: i for i, d in enumerate(docs)}
        prior = bm25_scores(whole, [q.query for q in queries])[:, [column[p.doc] for p in pages]]
        prior /= prior.max(axis=1, keepdims=True) + 1e-9
        cells = []
        for w in weights:
            ndcg, recall = evaluate(np.where(hybrid > -1e8, hybrid + w * prior, hybrid), gold, corpus)
            cells.append(f"{ndcg:.3f} / {recall:.3f}")
        print(f"| {devset.name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
