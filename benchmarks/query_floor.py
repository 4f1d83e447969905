"""Where the time of one query embedding goes, and what the floor is on this CPU.

At query size (about 26 tokens) a BERT layer is six matrix products of a few dozen rows
against weights of 1.8 M floats. This script times, with torch's threads as given:

- the real models: e5-small and all-MiniLM-L6-v2 (traced, as queries run), then the
  default composite (both, one after the other, and both at once);
- e5-small's twelve layers of matrix products alone, with the weights of every layer
  distinct (as in the model: 85 MB, more than the cache) and with one layer's weights
  reused (in cache), next to the time to read 85 MB;
- other number formats for the same products: bf16, fp16 weights widened on the fly,
  torch's int8 and int4 weight-only kernels (int4 with 32-wide groups holds e5's Q4_0
  weights exactly), and how far dynamic int8 moves e5's query vectors (cosine).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/query_floor.py --threads 2``
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHAPES = [(1536, 384), (384, 1536), (384, 384), (384, 384), (384, 384), (384, 384)]


def p50_ms(fn: Callable[[Any], object], items: list[Any], warm: int = 5) -> float:
    for item in items[:warm]:
        fn(item)
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def layer_products(rows: int, repeat: int = 30) -> dict[str, float]:
    """ms for twelve layers of products (distinct weights) in each number format."""
    import torch
    from torch.nn.functional import linear

    torch.manual_seed(0)
    weights = [[torch.randn(*s) * 0.05 for s in SHAPES] for _ in range(12)]
    inputs = {384: torch.randn(rows, 384), 1536: torch.randn(rows, 1536)}

    def run(
        product: Callable[[Any, Any], Any], prepare: Callable[[Any], Any], layers: Any = weights
    ) -> float:
        prepared = [[(w.shape[1], prepare(w)) for w in layer] for layer in layers]
        with torch.inference_mode():
            for _ in range(3):
                for layer in prepared:
                    for k, p in layer:
                        product(inputs[k], p)
            started = time.perf_counter()
            for _ in range(repeat):
                for layer in prepared:
                    for k, p in layer:
                        product(inputs[k], p)
        return (time.perf_counter() - started) / repeat * 1000

    def int8(w: Any) -> Any:
        scale = w.abs().amax(1) / 127
        return torch.round(w / scale[:, None]).to(torch.int8), scale

    def int4(w: Any) -> Any:
        groups = w.reshape(w.shape[0], -1, 32)
        scale = groups.abs().amax(-1) / 8
        q = (torch.round(groups / scale[..., None]).clamp(-8, 7) + 8).to(torch.int32).reshape(w.shape)
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1)
        return packed, torch.stack([scale.t(), torch.zeros_like(scale.t())], -1).contiguous()

    big = torch.randn(sum(s[0] * s[1] for s in SHAPES) * 12)
    with torch.inference_mode():
        big.sum()
        started = time.perf_counter()
        for _ in range(repeat):
            big.sum()
    read = (time.perf_counter() - started) / repeat * 1000
    out = {
        "fp32, distinct weights (as in the model)": run(linear, lambda w: w),
        "fp32, one layer's weights reused (in cache)": run(linear, lambda w: w, [weights[0]] * 12),
        f"reading the same {big.numel() * 4 / 1e6:.0f} MB once": read,
        "bf16 activations and weights": run(
            lambda x, w: linear(x.to(torch.bfloat16), w), lambda w: w.to(torch.bfloat16)
        ),
        "fp16 weights widened per product": run(lambda x, w: linear(x, w.float()), lambda w: w.half()),
    }
    slow = max(1, repeat // 10)
    for name, product, prepare in (
        ("int8 weight-only (_weight_int8pack_mm)", torch.ops.aten._weight_int8pack_mm, int8),
        ("int4 weight-only, 32-groups (_weight_int4pack_mm_for_cpu)", None, int4),
    ):
        call: Callable[[Any, Any], Any] = (
            (lambda x, p, f=product: f(x, p[0], p[1]))
            if product is not None
            else (lambda x, p: torch.ops.aten._weight_int4pack_mm_for_cpu(x, p[0], 32, p[1]))
        )
        try:
            saved, repeat = repeat, slow
            out[name] = run(call, prepare)
        except RuntimeError as exc:  # a build without the kernel
            print(f"{name}: {exc}")
        finally:
            repeat = saved
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--queries", type=Path, default=ROOT.parent / "shared" / "devset-long" / "queries.jsonl"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    from pagerag.retriever.embedders.e5 import PREFIXES
    from pagerag.retriever.embedders.registry import build_embedder

    lines = args.queries.read_text(encoding="utf-8").splitlines()[:100]
    queries = [json.loads(line)["query"] for line in lines]
    emb: Any = build_embedder()
    e5, minilm = emb.dense, emb.multi
    tokens = statistics.mean(len(e5._encoder.tokenizer.encode([PREFIXES[True] + q])[0]) + 2 for q in queries)
    threads = torch.get_num_threads()
    print(f"torch threads {threads}; {len(queries)} queries, {tokens:.1f} e5 tokens on average\n")
    print("| query embedding, batch 1 | p50 ms |\n|---|---|")
    rows = {
        "e5-small dense (traced)": lambda q: e5.embed_queries([q]),
        "minilm-tokens (traced)": lambda q: minilm.embed_queries([q]),
        "default composite (one after the other, as shipped)": lambda q: emb.embed_queries([q]),
        "default composite, both models at once": lambda q: emb._both(lambda m: m.embed_queries([q])),
    }
    for name, fn in rows.items():
        print(f"| {name} | {p50_ms(fn, queries):.1f} |")

    print(f"\n| e5-small's 12 layers of products, {round(tokens)} rows | ms |\n|---|---|")
    for name, ms in layer_products(round(tokens)).items():
        print(f"| {name} | {ms:.1f} |")

    from torch.ao.quantization import quantize_dynamic

    from pagerag.retriever.embedders.e5 import encode

    reference = encode(e5._encoder, queries, query=True)[0]
    bert = e5._encoder._bert
    e5._encoder._bert = quantize_dynamic(copy.deepcopy(bert), {torch.nn.Linear}, dtype=torch.qint8)
    e5._encoder.trace_single = False
    try:
        quantized = encode(e5._encoder, queries, query=True, batch_tokens=1)[0]
    finally:
        e5._encoder._bert, e5._encoder.trace_single = bert, True
    cos = (reference * quantized).sum(axis=1)
    print(
        f"\ndynamic int8 (torch quantize_dynamic) e5 query vectors: cosine to fp32 min {cos.min():.4f}, "
        f"mean {np.mean(cos):.4f}"
    )


if __name__ == "__main__":
    main()
