"""e5-small's dense vector from a page's first 510-token window vs the whole-page average (harness).

nDCG@5 / R@5 of the dense signal alone and of the default hybrid plan (D) with each, on both dev sets
in doc and corpus scope, and the share of e5 tokens the first window saves.

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/e5_first_window.py`` (after ``quality_data.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import quality as harness

from pagerag.retriever.embedders.e5 import encode
from pagerag.retriever.embedders.e5_torch import packaged_encoder

ROOT = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    enc = packaged_encoder()
    for devset, langs in ((ROOT / "devset", "eng+deu+fra+spa"), (ROOT / "devset-long", "eng")):
        pages, queries, gold, doc_mask, corpus_mask = harness.setup(devset, langs)
        sig = harness.signals(pages, queries, skip={"e5-noprefix", "e5-passage-max", "maxsim-q-content"})
        texts = [p.text if p.text.strip() else " " for p in pages]
        cache = harness.EmbeddingCache("e5-p-first")
        first_pages = np.stack(
            cache.get(texts, lambda ts: list(encode(enc, ts, query=False, dense_windows=1)[0]), 16)
        )
        first = harness.e5_vectors([q.query for q in queries], query=True) @ first_pages.T
        counts = [len(s) for s in enc.tokenizer.encode(["passage: " + t for t in texts])]
        saved = 1 - sum(min(n, 510) for n in counts) / sum(counts)
        for name, dense in (("whole page", sig["e5-page"]), ("first window", first)):
            signals = {**sig, "e5-page": dense}
            for scope, mask in (("doc", doc_mask), ("corpus", corpus_mask)):
                alone = harness.evaluate(np.where(mask, dense, -1e9), gold, mask)
                hybrid = harness.evaluate(
                    harness.plan(signals, mask, final=(1, 1, 0), final_kind="dbsf"), gold, mask
                )
                print(
                    f"{devset.name} {scope:6} e5 {name:12}: dense alone {alone[0]:.3f}/{alone[1]:.3f}  "
                    f"plan D {hybrid[0]:.3f}/{hybrid[1]:.3f}"
                )
        print(f"{devset.name}: e5 tokens saved by reading only the first window: {saved:.0%}")


if __name__ == "__main__":
    main()
