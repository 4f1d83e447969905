"""Answer accuracy and answer time of an answerer on a query set with reference answers.

Runs the answer step as ``pagerag eval --answers`` does (the same scores: token F1,
contains, numbers, cites gold, MMLongBench-Doc's rules, per answer type; with the
retrieved pages and with the gold pages), on an index that already holds the
documents, and measures the answer time *on top of the search*: each query is
searched once, then answered from those hits (page layout from the word boxes,
prompt, answer) with the clock running only around the answer.

It also checks that no answer states a number that is on none of the pages it cites
(text layer, OCR and word boxes; a cited page's own number counts as on it).

``--llm`` takes any spec of ``pagerag ask`` (``extractive``, ``openai:MODEL`` with
``--llm-url``, ...) or ``file:PATH.py``: an older answerer module with an
``ExtractiveLLM`` class (for a before/after on the same metrics).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/answers.py ../shared/devset/queries.jsonl \\
        --docs ../shared/devset/docs --index /tmp/devset-index --llm extractive --k 3
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from pagerag.pipelines.answer import ask
from pagerag.pipelines.core import PageRAG
from pagerag.pipelines.evaluation.metrics import percentile
from pagerag.pipelines.evaluation.queries import load_queries
from pagerag.pipelines.evaluation.report import answer_tables
from pagerag.pipelines.evaluation.runner import evaluate
from pagerag.pipelines.evaluation.summary import summarise
from pagerag.pipelines.llm import build_llm
from pagerag.retriever.types import Hit, SearchFilter

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CITE = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")


class _Fixed:
    """Returns hits found before: the answer step timed without the search."""

    def __init__(self, hits: list[Hit], best: float) -> None:
        self.hits, self.best = hits, best

    def search_scored(
        self, query: str, *, k: int = 10, filter: SearchFilter | None = None
    ) -> tuple[list[Hit], float]:
        return self.hits[:k], self.best


def _llm(spec: str, url: str | None) -> Any:
    if spec.startswith("file:"):
        path = Path(spec[5:])
        loaded = importlib.util.spec_from_file_location("answerer_under_test", path)
        assert loaded is not None and loaded.loader is not None
        module = importlib.util.module_from_spec(loaded)
        sys.modules[loaded.name] = module  # dataclasses look their module up
        loaded.loader.exec_module(module)
        return module.ExtractiveLLM()
    return build_llm(spec, url=url, cache_dir=Path.home() / ".cache" / "pagerag", threads=1)


def _invented(rag: PageRAG, runs: Any) -> list[str]:
    """Answers stating a number that none of the pages they cite holds."""
    out = []
    for run in runs:
        for item in run.queries:
            for record in (item.answer, item.gold_answer):
                if record is None or not record.cited:
                    continue
                held = set()
                for source, page in record.cited:
                    doc = next(d for d in rag.documents() if d.source == source)
                    words = " ".join(w.text for w in rag.words(doc.doc_id, page))
                    held |= set(_NUMBER.findall(f"{rag.page(doc.doc_id, page).text} {words}")) | {str(page)}
                stated = set(_NUMBER.findall(_CITE.sub(" ", record.text)))
                if stated - held:
                    out.append(f"{item.query.id}: {sorted(stated - held)} in {record.text[:120]!r}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("queries", type=Path)
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True, help="an index holding the documents")
    parser.add_argument("--llm", default="extractive")
    parser.add_argument("--llm-url", default=None)
    parser.add_argument("--k", type=int, default=3, help="pages given to the answer step (pagerag ask: 3)")
    parser.add_argument("--pages", default="retrieved,gold")
    parser.add_argument("--repeat", type=int, default=3, help="timed answers per query")
    args = parser.parse_args()

    llm = _llm(args.llm, args.llm_url)
    query_set = load_queries(args.queries)
    with PageRAG.open(args.index) as rag:
        result = evaluate(
            query_set,
            args.docs,
            rag=rag,
            modes=["hybrid"],
            llm=llm,
            answer_k=args.k,
            answer_pages=args.pages.split(","),
            ingest=False,
        )
        timings = []
        for q in result.query_set.queries:
            if not q.answer:
                continue
            hits, best = rag.index.search_scored(q.query, k=args.k)
            fixed = _Fixed(hits, best)
            for _ in range(args.repeat):
                start = time.perf_counter()
                ask(q.query, index=fixed, llm=llm, k=args.k, words=lambda h: rag.words(h.doc_id, h.page))
                timings.append((time.perf_counter() - start) * 1000)
        invented = _invented(rag, result.runs)
    print(answer_tables([summarise(r) for r in result.runs]))
    answers = sum(1 for r in result.runs for q in r.queries for a in (q.answer, q.gold_answer) if a)
    print(f"\nanswers stating a number on none of their cited pages: {len(invented)} of {answers}")
    for line in invented:
        print(f"  {line}")
    print(
        f"\nanswer time on top of the search ({len(timings)} answers): p50 {percentile(timings, 50):.1f} ms, "
        f"p95 {percentile(timings, 95):.1f} ms, mean {statistics.fmean(timings):.1f} ms"
    )
    print(f"command: {' '.join(sys.argv)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
