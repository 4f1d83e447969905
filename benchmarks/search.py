"""Search speed of the store on synthetic vectors, against a numpy brute-force MaxSim scan.

Each configuration is PAGES x TOKENS (multi-vector rows per page, 128-d, float16 on disk)
with a 384-d dense vector, a 4-row pooled multi-vector and a ~100-term sparse vector per
page. It measures ingest (points/s, then index building), disk, RSS, p50/p95 latency per
mode over random queries (32 query tokens), and the same queries as an exhaustive numpy
MaxSim scan over all pages' multi-vectors held in RAM (float16), in the same process.

    .venv/bin/python benchmarks/search.py --configs 1000x800,10000x800,50000x64 --backend edge
    .venv/bin/python benchmarks/search.py --configs 1000x64,10000x64,1000x800 --backend local

Results are printed as a markdown table and appended as JSON lines to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pagerag.ingest.types import Page
from pagerag.retriever.recipe import HybridRecipe
from pagerag.retriever.search import build_stage
from pagerag.retriever.store import Store
from pagerag.retriever.store.base import Plan
from pagerag.retriever.types import MODES, EmbedderSpec, Embedding, Mode, SparseVector, VectorSpec

DENSE, MULTI, POOLED_ROWS, VOCAB, QUERY_TOKENS = 384, 128, 4, 30_000, 32
SPEC = EmbedderSpec(
    dense=VectorSpec("dense", DENSE),
    multi=VectorSpec("multi", MULTI, multivector=True, datatype="float16", hnsw=False),
    pooled=VectorSpec("pooled", MULTI, multivector=True),
    sparse="sparse",
    models={"dense": "synthetic", "multi": "synthetic", "sparse": "synthetic"},
)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def sparse(rng: np.random.Generator, n: int) -> SparseVector:
    ids = np.unique(rng.zipf(1.3, n) % VOCAB)
    return SparseVector(tuple(int(i) for i in ids), tuple(float(v) for v in rng.integers(1, 5, len(ids))))


def corpus(
    pages: int, tokens: int, seed: int, batch: int
) -> Iterator[tuple[list[Page], list[Embedding], np.ndarray]]:
    rng = np.random.default_rng(seed)
    for start in range(0, pages, batch):
        n = min(batch, pages - start)
        multi = unit(rng.standard_normal((n, tokens, MULTI), dtype=np.float32))
        dense = unit(rng.standard_normal((n, DENSE), dtype=np.float32))
        pooled = unit(multi.reshape(n, POOLED_ROWS, tokens // POOLED_ROWS, MULTI).mean(axis=2))
        ps, es = [], []
        for i in range(n):
            num = start + i
            doc = f"doc{num // 20:06d}"
            ps.append(
                Page(doc_id=doc, source=f"docs/{doc}.pdf", page=num % 20 + 1, page_count=20, text=f"p{num}")
            )
            es.append(Embedding(dense=dense[i], multi=multi[i], sparse=sparse(rng, 100), pooled=pooled[i]))
        yield ps, es, multi.astype(np.float16)


def queries(n: int, seed: int) -> list[Embedding]:
    rng = np.random.default_rng(seed + 1)
    return [
        Embedding(
            dense=unit(rng.standard_normal(DENSE, dtype=np.float32)),
            multi=unit(rng.standard_normal((QUERY_TOKENS, MULTI), dtype=np.float32)),
            sparse=sparse(rng, 8),
        )
        for _ in range(n)
    ]


def brute_force(all_multi: np.ndarray, q: np.ndarray, k: int, chunk: int = 256) -> np.ndarray:
    """Exhaustive MaxSim: for each page, sum over query tokens of the best page-token match."""
    scores = np.empty(len(all_multi), dtype=np.float32)
    qt = q.T.astype(np.float32)
    for s in range(0, len(all_multi), chunk):
        block = all_multi[s : s + chunk].astype(np.float32)  # (c, T, d)
        c, t, d = block.shape
        # one GEMM per chunk (a stacked 3-d matmul is several times slower)
        scores[s : s + chunk] = (block.reshape(c * t, d) @ qt).reshape(c, t, -1).max(axis=1).sum(axis=1)
    return np.argsort(-scores)[:k]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.array(xs), p))


def run(
    pages: int, tokens: int, backend: str, nq: int, k: int, bf_queries: int, workdir: Path
) -> dict[str, object]:
    path = workdir / f"{backend}-{pages}x{tokens}"
    shutil.rmtree(path, ignore_errors=True)
    if backend == "edge":
        store = Store(path)
    else:
        from qdrant_client import QdrantClient

        store = Store(client=QdrantClient(path=str(path)))
    store.ensure(SPEC)
    rss0 = rss_mb()
    keep = np.empty((pages, tokens, MULTI), dtype=np.float16)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    done = 0
    for ps, es, multi16 in corpus(pages, tokens, seed=pages * 1000 + tokens, batch=256):
        store.write(SPEC, ps, es)
        keep[done : done + len(ps)] = multi16
        done += len(ps)
    for doc in sorted({f"doc{i // 20:06d}" for i in range(pages)}):
        store.publish(doc)
    ingest_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    store.optimize()
    optimize_s = time.perf_counter() - t1
    recipe = HybridRecipe()
    qs = queries(nq + 5, seed=pages)
    out: dict[str, object] = {
        "backend": backend,
        "pages": pages,
        "tokens": tokens,
        "ingest_pts_s": round(pages / ingest_s, 1),
        "optimize_s": round(optimize_s, 1),
        "disk_mb": round(disk_mb(path), 1),
        "modes": {},
    }
    modes: dict[str, dict[str, float]] = {}
    variants: list[tuple[str, Mode, HybridRecipe]] = [(m, m, recipe) for m in MODES]
    variants.append(("hybrid-maxsim-only", "hybrid", HybridRecipe(final=None)))
    variants.append(("hybrid-rerank20", "hybrid", HybridRecipe(rerank=20)))
    for name, mode, rec in variants:
        times, cpu = [], []
        for i, q in enumerate(qs):
            stage = build_stage(q, SPEC, mode=mode, k=k, recipe=rec)
            assert stage is not None
            t, c = time.perf_counter(), time.process_time()
            store.query([Plan(stage)])
            if i >= 5:  # warm-up
                times.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
        modes[name] = {
            "p50_ms": round(pct(times, 50), 2),
            "p95_ms": round(pct(times, 95), 2),
            "cpu_p50_ms": round(pct(cpu, 50), 2),  # CPU time of all threads: robust to a busy machine
        }
    out["modes"] = modes
    bf, bf_cpu = [], []
    for q in qs[5 : 5 + bf_queries]:
        t, c = time.perf_counter(), time.process_time()
        brute_force(keep, q.multi, k)  # type: ignore[arg-type]
        bf.append((time.perf_counter() - t) * 1000)
        bf_cpu.append((time.process_time() - c) * 1000)
    out["bruteforce_p50_ms"] = round(statistics.median(bf), 1)
    out["bruteforce_cpu_p50_ms"] = round(statistics.median(bf_cpu), 1)
    out["speedup_hybrid_vs_bruteforce_cpu"] = round(
        out["bruteforce_cpu_p50_ms"] / max(modes["hybrid"]["cpu_p50_ms"], 0.01),  # type: ignore[operator]
        1,
    )
    out["speedup_hybrid_vs_bruteforce"] = round(out["bruteforce_p50_ms"] / modes["hybrid"]["p50_ms"], 1)  # type: ignore[operator]
    out["loadavg_start_end"] = [round(load, 1), round(os.getloadavg()[0], 1)]
    out["rss_mb"] = round(rss_mb(), 0)
    out["rss_store_mb"] = round(rss_mb() - rss0 - keep.nbytes / 2**20, 0)
    out["maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    store.close()
    del keep
    shutil.rmtree(path, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="1000x64,1000x800,10000x800,50000x64", help="PAGESxTOKENS,...")
    ap.add_argument("--backend", choices=("edge", "local"), default="edge")
    ap.add_argument("--queries", type=int, default=50, help="timed queries per mode")
    ap.add_argument("--bf-queries", type=int, default=5, help="brute-force queries timed")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pagerag-bench-search")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-search.jsonl"))
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# search benchmark, backend {args.backend}, {os.cpu_count()} cpus, {stamp}")
    for cfg in args.configs.split(","):
        pages, tokens = (int(x) for x in cfg.split("x"))
        res = run(pages, tokens, args.backend, args.queries, args.k, args.bf_queries, args.workdir)
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(res) + "\n")
        print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
