"""The Ray path against the local path on one machine: the same corpus, one after the other.

Each path ingests the corpus (default: devset-long, 547 pages) into a fresh index with the
default models, in a child process whose whole tree is sampled (the local path: the ingest and
its worker processes; the Ray path: the driver, the Ray it starts and its workers and actors).
Then the two indexes are compared (documents, pages, words, point ids, payloads, vectors within
1e-3) and both answer the corpus's queries, beside the yardsticks: the local index queried again
(hybrid search breaks ties of fused scores in the engine's own order, which changes between
opens) and, with ``--local-twice``, a second local run.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ray_ingest.py``

Prints a markdown table: wall time, pages/s, CPU time and peak RSS of the process tree per path,
the Ray/local wall ratio (target: 1.3 or less), and the congruence checks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVSET_LONG = ROOT.parent / "shared" / "devset-long"
sys.path.insert(0, str(ROOT / "tests" / "distributed"))  # the congruence check the tests use

CHILD = """
import json, sys
from pathlib import Path
from pagerag.ingest.catalog import Catalog
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.pipelines.core import PageRAG

if __name__ == "__main__":
    path, docs, index = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    extra = {}
    if path == "ray":
        from pagerag.pipelines.ray_ingest import RayOptions, RayProcessor
        extra["processor"] = RayProcessor(RayOptions())
    with PageRAG.open(index) as rag, Catalog.open(index) as catalog:
        report = ingest_paths([docs], catalog=catalog, sink=rag.index, options=IngestOptions(),
                              progress=False, **extra)
        rag.index.flush()
    print(json.dumps({"pages": report.pages_indexed, "seconds": report.seconds,
                      "failed": [[f.path, f.reason] for f in report.failed]}))
"""


@dataclass(frozen=True, slots=True)
class Run:
    """One path's ingest: pages done, wall seconds, CPU seconds and peak RSS of its process tree."""

    pages: int
    wall: float
    cpu: float
    rss: int
    failed: list[list[str]]


def run_path(path: str, docs: Path, index: Path) -> Run:
    """Ingest ``docs`` into ``index`` by ``path`` (``local`` or ``ray``) in a child process."""
    from e2e import TreeSampler

    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, path, str(docs), str(index)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"{path} ingest failed ({proc.returncode}):\n{err[-3000:]}")
    report = json.loads(out.strip().splitlines()[-1])
    return Run(report["pages"], wall, sum(sampler.cpu.values()), sampler.peak, report["failed"])


def answers(index: Path, queries: Path, k: int = 10) -> list[list[tuple[str, int, float]]]:
    """The top ``k`` pages (document, page, score) of each query, by the default hybrid search."""
    from pagerag.pipelines.core import PageRAG

    texts = [json.loads(line)["query"] for line in queries.read_text(encoding="utf-8").splitlines() if line]
    with PageRAG.open(index) as rag:
        return [[(h.doc_id, h.page, h.score) for h in hits] for hits in rag.search_many(texts, k=k)]


def agreement(a: list[list[tuple[str, int, float]]], b: list[list[tuple[str, int, float]]]) -> str:
    """How many queries rank the same pages, and the same pages with the same scores (within 1e-3)."""
    pages = scores = 0
    for x, y in zip(a, b, strict=True):
        if [h[:2] for h in x] == [h[:2] for h in y]:
            pages += 1
            scores += all(abs(h[2] - g[2]) <= 1e-3 for h, g in zip(x, y, strict=True))
    return f"{pages} of {len(a)} the same top 10 pages, {scores} with the same scores too"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=DEVSET_LONG / "docs")
    parser.add_argument("--queries", type=Path, default=DEVSET_LONG / "queries.jsonl")
    parser.add_argument("--work", type=Path, default=None, help="where the indexes go (temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the indexes")
    parser.add_argument(
        "--local-twice", action="store_true", help="a second local run: how much two local indexes differ"
    )
    args = parser.parse_args()

    from congruence import assert_same_index

    work = args.work or Path(tempfile.mkdtemp(prefix="pagerag-ray-bench-"))
    load = os.getloadavg()[0]
    results = {}
    for path in ("local", "ray", "local2") if args.local_twice else ("local", "ray"):
        shutil.rmtree(work / path, ignore_errors=True)
        results[path] = run_path(path.rstrip("2"), args.docs, work / path)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"# Ray path against the local path: {args.docs}\n")
    print(f"{os.cpu_count()} CPUs; load average before: {load:.2f}; OMP_NUM_THREADS={threads}\n")
    print("| path | pages | wall s | pages/s | CPU s (tree) | peak RSS (tree) | failed |")
    print("|---|---|---|---|---|---|---|")
    for path, r in results.items():
        print(
            f"| {path} | {r.pages} | {r.wall:.0f} | {r.pages / r.wall:.2f} | {r.cpu:.0f} | "
            f"{r.rss / 2**20:.0f} MiB | {len(r.failed)} |"
        )
    print(f"\nRay / local wall time: {results['ray'].wall / results['local'].wall:.2f} (target <= 1.3)")
    for atol, said in ((0.0, "identical"), (1e-3, "within 1e-3")):
        try:
            assert_same_index(work / "local", work / "ray", atol=atol)
        except AssertionError as exc:
            failure = str(exc)[:500]
            continue
        print(f"indexes: same documents, pages, words, point ids, payloads; vectors {said}")
        break
    else:
        print(f"indexes DIFFER: {failure}")
    if args.queries.exists():
        ranked = {path: answers(work / path, args.queries) for path in results}
        print(f"queries, ray against local: {agreement(ranked['local'], ranked['ray'])}")
        again = answers(work / "local", args.queries)  # the search's own repeatability: ties of fused scores
        print(f"queries, the local index against itself opened again: {agreement(ranked['local'], again)}")
        if "local2" in ranked:
            print(f"queries, local against local: {agreement(ranked['local'], ranked['local2'])}")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
