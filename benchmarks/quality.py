"""Offline retrieval-quality harness: nDCG@5 / recall@5 of embedding and fusion options.

Runs the project's own embedders (``pagerag.retriever.embedders``) over cached page
texts (``quality_data.py``), caches every embedding by text hash, and scores each
option as a query x page score matrix, emulating the Qdrant query (prefetches,
fusion, MaxSim rerank) in numpy. Used to pick the defaults and the hybrid recipe;
the official numbers come from ``pagerag eval`` through the whole pipeline.

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/quality.py ../shared/devset ../shared/devset-long``
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from quality_data import CACHE, DevPage, Query, load_pages, load_queries

from pagerag.retriever.embedders.minilm import _stopword_ids
from pagerag.retriever.maxsim import maxsim_many, normalize, pool_hierarchical, pool_mean, truncate

Matrix = np.ndarray


class EmbeddingCache:
    """Per-model pickle of text-hash -> embedding, so each text is embedded once."""

    def __init__(self, name: str) -> None:
        self.path = CACHE / "emb" / f"{name}.pkl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.data: dict[str, object] = pickle.loads(self.path.read_bytes()) if self.path.exists() else {}

    def get(self, texts: list[str], compute: Callable[[list[str]], list[object]], batch: int = 32) -> list:
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self.data}.items())
        started = time.time()
        for i in range(0, len(todo), batch):
            chunk = todo[i : i + batch]
            for (key, _), value in zip(chunk, compute([t for _, t in chunk]), strict=True):
                self.data[key] = value
            print(
                f"  {self.path.stem}: {i + len(chunk)}/{len(todo)} {time.time() - started:.0f}s",
                file=sys.stderr,
            )
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps(self.data))
            tmp.replace(self.path)  # atomic: another harness process may read it
        return [self.data[k] for k in keys]


_models: dict[str, object] = {}


def model(name: str) -> object:
    if name not in _models:
        if name == "e5":
            from pagerag.retriever.embedders.e5 import E5Embedder

            _models[name] = E5Embedder()
        elif name == "e5-tokens":
            from pagerag.retriever.embedders.e5 import E5TokenEmbedder

            _models[name] = E5TokenEmbedder()
        elif name == "minilm":
            from pagerag.retriever.embedders.minilm import MiniLMTokenEmbedder

            _models[name] = MiniLMTokenEmbedder()
    return _models[name]


def e5_vectors(texts: list[str], *, query: bool, tag: str = "") -> Matrix:
    cache = EmbeddingCache(f"e5-{'q' if query else 'p'}{tag}")
    return np.stack(cache.get(texts, lambda ts: list(model("e5").embed_texts(ts, query=query)), 16))


def minilm_tokens(texts: list[str], *, query: bool, tag: str = "") -> list[Matrix]:
    cache = EmbeddingCache(f"minilm-{'q' if query else 'p'}{tag}")
    minilm = model("minilm")
    minilm._query_skip = minilm._skip | _stopword_ids(minilm._tokenizer) if tag == "-content" else frozenset()
    got = cache.get(
        texts, lambda ts: [v.astype(np.float16) for v in model("minilm").token_vectors(ts, query=query)]
    )
    return [np.asarray(v, dtype=np.float32) for v in got]


def e5_tokens(texts: list[str], *, query: bool) -> list[Matrix]:
    """e5-small token vectors as ``e5-tokens`` makes them, before pooling (pages: no punctuation)."""
    from pagerag.retriever.embedders.e5 import encode

    emb = model("e5-tokens")

    def compute(ts: list[str]) -> list[object]:
        ts = [t if t.strip() else " " for t in ts]
        skip = frozenset() if query else emb._skip
        _, rows = encode(emb._encoder, ts, query=query, tokens=True, skip=skip)
        return [r.astype(np.float16) for r in rows]

    got = EmbeddingCache(f"e5tok-{'q' if query else 'p'}").get(texts, compute, 16)
    return [np.asarray(v, dtype=np.float32) for v in got]


def passages(text: str, words: int = 120) -> list[str]:
    tokens = text.split()
    return [" ".join(tokens[i : i + words]) for i in range(0, max(len(tokens), 1), words)]


# ---- signals: query x page score matrices ---------------------------------------------------------


def bm25_scores(pages: list[str], queries: list[str], **options: object) -> Matrix:
    from pagerag.retriever.embedders.bm25 import Bm25Encoder, Bm25Options

    enc = Bm25Encoder(Bm25Options(**options))  # type: ignore[arg-type]
    docs = enc.embed_passages(pages)
    df: dict[int, int] = {}
    for d in docs:
        for i in d.indices:
            df[i] = df.get(i, 0) + 1
    n = len(docs)
    idf = {i: np.log(1 + (n - c + 0.5) / (c + 0.5)) for i, c in df.items()}  # Qdrant's Modifier.IDF
    rows = [dict(zip(d.indices, d.values, strict=True)) for d in docs]
    out = np.zeros((len(queries), n), dtype=np.float32)
    for qi, q in enumerate(enc.embed_queries(queries)):
        for term in q.indices:
            if term in idf:
                for pi, row in enumerate(rows):
                    if term in row:
                        out[qi, pi] += idf[term] * row[term]
    return out


def maxsim_scores(page_multi: list[Matrix], query_multi: list[Matrix]) -> Matrix:
    return np.stack([maxsim_many(q, page_multi) for q in query_multi])


# ---- fusion and evaluation ----------------------------------------------------------------------


def ranks(scores: Matrix) -> Matrix:
    order = np.argsort(-scores, axis=1, kind="stable")
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.arange(scores.shape[1])[None, :].repeat(len(scores), 0), axis=1)
    return out + 1


def minmax(s: Matrix, mask: Matrix) -> Matrix:
    lo = np.where(mask, s, np.inf).min(1, keepdims=True)
    hi = np.where(mask, s, -np.inf).max(1, keepdims=True)
    return (s - lo) / np.maximum(hi - lo, 1e-9)


def evaluate(scores: Matrix, gold: list[set[int]], mask: Matrix, k: int = 5) -> tuple[float, float]:
    masked = np.where(mask, scores, -np.inf)
    ndcgs, recalls = [], []
    for qi, relevant in enumerate(gold):
        top = np.argsort(-masked[qi], kind="stable")[:k]
        gains = [1.0 if p in relevant else 0.0 for p in top]
        dcg = sum(g / np.log2(i + 2) for i, g in enumerate(gains))
        idcg = sum(1 / np.log2(i + 2) for i in range(min(len(relevant), k)))
        ndcgs.append(dcg / idcg if idcg else 0.0)
        recalls.append(sum(gains) / len(relevant) if relevant else 0.0)
    return float(np.mean(ndcgs)), float(np.mean(recalls))


def setup(devset: Path, langs: str) -> tuple[list[DevPage], list[Query], list[set[int]], Matrix, Matrix]:
    pages = load_pages(devset, langs=langs)
    queries = load_queries(devset)
    index = {(p.doc, p.page): i for i, p in enumerate(pages)}
    gold = [{index[(q.doc, n)] for n in q.pages if (q.doc, n) in index} for q in queries]
    doc_mask = np.array([[p.doc == q.doc for p in pages] for q in queries])
    corpus_mask = np.ones_like(doc_mask)
    return pages, queries, gold, doc_mask, corpus_mask


def signals(pages: list[DevPage], queries: list[Query], skip: set[str]) -> dict[str, Matrix]:
    """Every single-signal score matrix the options are built from (``skip``: names not to compute)."""
    texts = [p.text for p in pages]
    qtexts = [q.query for q in queries]
    out: dict[str, Matrix] = {}

    key = hashlib.sha1(("\n".join(texts) + "\0" + "\n".join(qtexts)).encode()).hexdigest()[:12]
    saved = CACHE / "signals" / f"{key}.npz"
    known: dict[str, Matrix] = dict(np.load(saved)) if saved.exists() else {}

    def add(name: str, compute: Callable[[], Matrix]) -> None:
        if name in skip:
            return
        if name not in known:
            started = time.time()
            known[name] = compute()
            print(f"  signal {name}: {time.time() - started:.0f}s", file=sys.stderr, flush=True)
            saved.parent.mkdir(parents=True, exist_ok=True)
            np.savez(saved, **known)
        out[name] = known[name]

    add("bm25", lambda: bm25_scores(texts, qtexts))
    add(
        "bm25-native",
        lambda: bm25_scores([p.native if len(p.native) >= 50 else p.text for p in pages], qtexts),
    )
    add("bm25-k1.2", lambda: bm25_scores(texts, qtexts, k=1.2))
    add("bm25-nostop", lambda: bm25_scores(texts, qtexts, stopwords=False))
    add("bm25-avg512", lambda: bm25_scores(texts, qtexts, avg_len=512.0))
    pm = minilm_tokens(texts, query=False)
    qm = minilm_tokens(qtexts, query=True)
    add("maxsim", lambda: maxsim_scores(pm, qm))
    qm2 = minilm_tokens(qtexts, query=True, tag="-content")
    add("maxsim-q-content", lambda: maxsim_scores(pm, qm2))
    add("maxsim-64d", lambda: maxsim_scores([truncate(m, 64) for m in pm], [truncate(m, 64) for m in qm]))
    add("maxsim-pool2", lambda: maxsim_scores([pool_hierarchical(m, 2) for m in pm], qm))
    add("maxsim-pool3", lambda: maxsim_scores([pool_hierarchical(m, 3) for m in pm], qm))
    add("pooled16", lambda: maxsim_scores([pool_mean(m, 16) for m in pm], qm))
    add("pooled32", lambda: maxsim_scores([pool_mean(m, 32) for m in pm], qm))
    add(
        "minilm-dense",
        lambda: (
            np.stack([normalize(m.mean(0)) for m in qm])
            @ np.stack([normalize(m.mean(0)) if len(m) else np.zeros(384, np.float32) for m in pm]).T
        ),
    )
    if "e5tok" not in skip:
        pe, qe = e5_tokens(texts, query=False), e5_tokens(qtexts, query=True)
        add("e5tok-maxsim", lambda: maxsim_scores(pe, qe))
        add("e5tok-maxsim-pool2", lambda: maxsim_scores([pool_hierarchical(m, 2) for m in pe], qe))
        add("e5tok-pooled16", lambda: maxsim_scores([pool_mean(m, 16) for m in pe], qe))
    qv = e5_vectors(qtexts, query=True)
    add("e5-page", lambda: qv @ e5_vectors(texts, query=False).T)
    add("e5-noprefix", lambda: e5_vectors(qtexts, query=False) @ e5_vectors(texts, query=False).T)

    def passage_max() -> Matrix:
        spans = [passages(t) for t in texts]
        sims = qv @ e5_vectors([s for ss in spans for s in ss], query=False).T
        offsets = np.cumsum([0] + [len(s) for s in spans])
        return np.stack([sims[:, a:b].max(1) for a, b in itertools.pairwise(offsets)], 1)

    add("e5-passage-max", passage_max)
    return out


def top_mask(s: Matrix, mask: Matrix, n: int) -> Matrix:
    return (ranks(np.where(mask, s, -np.inf)) <= n) & mask


def fuse(stages: list[tuple[Matrix, Matrix, float]], k: float) -> tuple[Matrix, Matrix]:
    """Qdrant's RRF over prefetch stages (scores, members, weight): fused scores and their members."""
    fused = np.zeros_like(stages[0][0])
    members = np.zeros(stages[0][0].shape, dtype=bool)
    for scores, inside, weight in stages:
        r = ranks(np.where(inside, scores, -np.inf))
        fused += np.where(inside, weight / (k + r), 0.0)
        members |= inside
    return np.where(members, fused, -1e9), members


def dbsf(stages: list[tuple[Matrix, Matrix, float]]) -> Matrix:
    """Qdrant's distribution-based score fusion: each stage's scores over its own hits scaled by
    mean +- 3 std to [0, 1] (clipped), summed; a point missing from a stage gets 0 there."""
    fused = np.zeros_like(stages[0][0])
    members = np.zeros(stages[0][0].shape, dtype=bool)
    for scores, inside, weight in stages:
        vals = np.where(inside, scores, np.nan)
        mu, sd = np.nanmean(vals, 1, keepdims=True), np.nanstd(vals, 1, keepdims=True)
        low = mu - 3 * sd
        scaled = np.clip((scores - low) / np.maximum(6 * sd, 1e-9), 0, 1)
        fused += np.where(inside, weight * scaled, 0.0)
        members |= inside
    return np.where(members, fused, -1e9)


def plan(
    s: dict[str, Matrix],
    mask: Matrix,
    *,
    n: int = 50,
    rerank: int = 50,
    k: float = 60,
    first: tuple[float, float, float] = (1, 1, 1),
    final: tuple[float, float, float] | None = None,
    pooled: str = "pooled16",
    multi: str = "maxsim-pool2",
    final_kind: str = "rrf",
) -> Matrix:
    """The store's hybrid query, emulated.

    prefetch dense/sparse/pooled (top ``n`` each, RRF weights ``first``) -> top ``rerank``
    -> MaxSim on ``multi``; with ``final`` = (maxsim, sparse, dense) weights, one more RRF
    of the MaxSim-ranked candidates with the sparse and dense prefetches.
    """
    later = dict(zip(("maxsim", "sparse", "dense"), final or (0, 0, 0), strict=True))
    roles = zip(("dense", "sparse", "pooled"), ("e5-page", "bm25", pooled), first, strict=True)
    stages = {
        role: (s[name], top_mask(s[name], mask, n))
        for role, name, w in roles
        if w > 0 or later.get(role, 0) > 0
    }
    weights = dict(zip(("dense", "sparse", "pooled"), first, strict=True))
    f1, members = fuse([(*stages[r], weights[r]) for r in stages if weights[r] > 0], k)
    cand = top_mask(f1, members & mask, rerank) & members
    ms = np.where(cand, s[multi], -1e9)
    if final is None:
        return ms
    wm, ws, wd = final
    last = [(ms, cand, wm)]
    last += [(*stages[role], w) for role, w in (("sparse", ws), ("dense", wd)) if w > 0]
    return dbsf(last) if final_kind == "dbsf" else fuse(last, k)[0]


def options(sig: dict[str, Matrix], mask: Matrix) -> dict[str, Matrix]:
    """Every option as a score matrix (higher is better) within ``mask`` (the search scope).

    ``plan`` options emulate the store's one-query hybrid search; the shipped defaults are
    BM25 k1 1.5, MaxSim over page tokens pooled by 2 (``maxsim-pool2``), pooled16 first stage.
    Options whose signals were skipped are left out.
    """
    s = {k: np.where(mask, v, -1e9) for k, v in sig.items()}
    nrm = {k: minmax(v, mask) for k, v in s.items()}
    every = mask
    dbsf_final = {"final": (1, 1, 0), "final_kind": "dbsf"}
    built: dict[str, Callable[[], Matrix]] = {
        "rrf bm25+e5 (k60, all pages)": lambda: fuse([(s["bm25"], every, 1), (s["e5-page"], every, 1)], 60)[
            0
        ],
        "rrf bm25+maxsim (k60, all pages)": lambda: fuse(
            [(s["bm25"], every, 1), (s["maxsim-pool2"], every, 1)], 60
        )[0],
        "rrf bm25+maxsim+e5 (k60, all pages)": lambda: fuse(
            [(s["bm25"], every, 1), (s["maxsim-pool2"], every, 1), (s["e5-page"], every, 1)], 60
        )[0],
        "linear .5 bm25 + .5 maxsim (min-max, all pages)": lambda: (
            0.5 * nrm["bm25"] + 0.5 * nrm["maxsim-pool2"]
        ),
        "A plan: rrf(dense,sparse,pooled16) top50 -> maxsim": lambda: plan(s, mask),
        "B plan: A + final rrf maxsim:sparse 1:1": lambda: plan(s, mask, final=(1, 1, 0)),
        "C plan: A + final rrf maxsim:sparse:dense 1:2:1": lambda: plan(s, mask, final=(1, 2, 1)),
        "D plan: A + final dbsf maxsim+sparse (default)": lambda: plan(s, mask, **dbsf_final),
        "E plan: A + final dbsf maxsim+sparse+dense": lambda: plan(
            s, mask, final=(1, 1, 1), final_kind="dbsf"
        ),
        "F plan: D with prefetch 100": lambda: plan(s, mask, n=100, rerank=100, **dbsf_final),
        "G plan: D without the dense prefetch": lambda: plan(s, mask, first=(0, 1, 1), **dbsf_final),
        "H plan: D, all page tokens (no pooling)": lambda: plan(s, mask, multi="maxsim", **dbsf_final),
        "I plan: D, pooled32 first stage": lambda: plan(s, mask, pooled="pooled32", **dbsf_final),
        "J plan: D, 64-d truncated multi": lambda: plan(s, mask, multi="maxsim-64d", **dbsf_final),
        "K plan: D with e5-tokens as the multi model (pooled16 + MaxSim pool2)": lambda: plan(
            s, mask, pooled="e5tok-pooled16", multi="e5tok-maxsim-pool2", **dbsf_final
        ),
        "L plan: D with e5-tokens, all page tokens (no pooling)": lambda: plan(
            s, mask, pooled="e5tok-pooled16", multi="e5tok-maxsim", **dbsf_final
        ),
    }
    out = dict(s)
    for name, make in built.items():
        try:
            out[name] = make()
        except KeyError:
            continue
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("devsets", nargs="+", type=Path)
    parser.add_argument("--langs", default="eng+deu+fra+spa")
    parser.add_argument(
        "--skip", default="", help="comma-separated signals not to compute (e5tok: all e5-tokens ones)"
    )
    parser.add_argument("--by-modality", default="", help="options to break down, separated by ;")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = parser.parse_args()
    table: dict[str, dict[str, tuple[float, float]]] = {}
    columns = []
    for devset in args.devsets:
        pages, queries, gold, doc_mask, corpus_mask = setup(devset, args.langs)
        sig = signals(pages, queries, set(filter(None, args.skip.split(","))))
        for scope, mask in (("doc", doc_mask), ("corpus", corpus_mask)):
            column = f"{devset.name} {scope}"
            columns.append(column)
            for name, scores in options(sig, mask).items():
                table.setdefault(name, {})[column] = evaluate(scores, gold, mask)
        if args.by_modality:
            print(f"\n{devset.name} doc scope, nDCG@5 by modality", file=sys.stderr)
            for name in args.by_modality.split(";"):
                scores = options(sig, doc_mask)[name]
                cells = []
                for modality in sorted({q.modality for q in queries}):
                    keep = [i for i, q in enumerate(queries) if q.modality == modality]
                    got = evaluate(scores[keep], [gold[i] for i in keep], doc_mask[keep])[0]
                    cells.append(f"{modality or '-'} {got:.3f} (n={len(keep)})")
                print(f"  {name}: " + ", ".join(cells), file=sys.stderr)
    lines = ["| option | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for name, row in table.items():
        cells = [f"{row[c][0]:.3f} / {row[c][1]:.3f}" if c in row else "" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
