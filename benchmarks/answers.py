"""Answer accuracy of the offline answerers on a query set with reference answers.

Two settings: ``gold`` gives the model the query's gold pages only (the answer step
alone), ``retrieved`` gives it the index's top-k pages for the query over the whole
corpus (the system as users run it). Scores: normalised token F1 and exact-contains
(``pagerag.pipelines.evaluation.metrics``), plus ``numbers``: the share of the
reference's numbers that the answer states, and ``cites gold``: the answer cites a
gold page.

Usage (index built first with ``pagerag ingest DOCS --index INDEX``)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/answers.py ../shared/devset/queries.jsonl \
        --index .pagerag-devset --llm none,gemma-270m --settings gold,retrieved --k 3
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pagerag.ingest.catalog import Catalog
from pagerag.pipelines.answer import ask
from pagerag.pipelines.evaluation.metrics import exact_contains, token_f1
from pagerag.pipelines.llm import build_llm
from pagerag.retriever.types import Hit, SearchFilter

_NUM = re.compile(r"\d+(?:[.,]\d+)?")
_CITE = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


@dataclass
class GoldIndex:
    """Returns the query's gold pages (the retriever taken out of the measurement)."""

    pages: dict[tuple[str, int], Hit]
    gold: list[tuple[str, int]]

    def search_scored(
        self, query: str, *, k: int = 10, filter: SearchFilter | None = None
    ) -> tuple[list[Hit], float]:
        hits = self.search(query, k=k, filter=filter)
        return hits, hits[0].score if hits else 0.0

    def search(self, query: str, *, k: int = 10, filter: SearchFilter | None = None) -> list[Hit]:
        return [self.pages[key] for key in self.gold if key in self.pages][:k]


def numbers_recall(answer: str, reference: str) -> float | None:
    wanted = {n.replace(",", ".") for n in _NUM.findall(reference)}
    if not wanted:
        return None
    got = {n.replace(",", ".") for n in _NUM.findall(answer)}
    return len(wanted & got) / len(wanted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--llm", default="none,gemma-270m")
    parser.add_argument("--settings", default="gold,retrieved")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "pagerag")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/bench/answers.md"))
    parser.add_argument("--jsonl", type=Path, default=None, help="per-query answers")
    args = parser.parse_args()

    queries = [json.loads(line) for line in args.queries.read_text().splitlines() if line.strip()]
    queries = [q for q in queries if q.get("answer")][: args.limit or None]
    catalog = Catalog.open(args.index)
    if True:
        pages = {
            (p.source, p.page): Hit(p.source, p.page, 1.0, p.text, p.image_path, p.doc_id)
            for d in catalog.documents()
            for p in catalog.pages(d.doc_id)
        }
    rows: list[tuple[str, str, dict[str, float]]] = []
    records = []
    for spec in args.llm.split(","):
        started = time.perf_counter()
        llm = build_llm(spec, cache_dir=args.cache, threads=1)
        load = time.perf_counter() - started
        for setting in args.settings.split(","):
            index = None
            if setting == "retrieved":
                from pagerag.retriever.index import PageIndex

                index = PageIndex.open(args.index)
            scores: dict[str, list[float]] = {k: [] for k in ("f1", "contains", "numbers", "cites_gold", "s")}
            for q in queries:
                gold = [(q["doc"], p) for p in q["pages"]]
                searcher = index if index is not None else GoldIndex(pages, gold)
                t = time.perf_counter()
                answer = ask(
                    q["query"],
                    index=searcher,
                    llm=llm,
                    k=args.k,
                    words=lambda h: catalog.words(h.doc_id, h.page),
                )
                seconds = time.perf_counter() - t
                text = _CITE.sub(" ", answer.text)
                scores["f1"].append(token_f1(text, q["answer"]))
                scores["contains"].append(exact_contains(text, q["answer"]))
                nr = numbers_recall(text, q["answer"])
                if nr is not None:
                    scores["numbers"].append(nr)
                scores["cites_gold"].append(float(any((c.source, c.page) in gold for c in answer.citations)))
                scores["s"].append(seconds)
                records.append({"llm": spec, "setting": setting, "id": q["id"], "answer": answer.text})
                print(f"{spec} {setting} {q['id']} f1={scores['f1'][-1]:.2f} {seconds:.1f}s", file=sys.stderr)
            if index is not None:
                index.close()
            means = {key: sum(v) / len(v) if v else 0.0 for key, v in scores.items()}
            means["load"] = load
            rows.append((spec, setting, means))
    _write(args, rows, len(queries))
    if args.jsonl:
        args.jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return 0


def _write(args: argparse.Namespace, rows: list[tuple[str, str, dict[str, float]]], n: int) -> None:
    lines = [
        "| answerer | pages given | token F1 | contains | numbers | cites gold | s/query | load s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec, setting, m in rows:
        given = "gold pages" if setting == "gold" else f"top-{args.k} retrieved (hybrid, corpus)"
        lines.append(
            f"| {spec} | {given} | {m['f1']:.3f} | {m['contains']:.3f} | {m['numbers']:.3f} "
            f"| {m['cites_gold']:.3f} | {m['s']:.1f} | {m['load']:.0f} |"
        )
    table = "\n".join(lines)
    print(table)
    header = (
        f"\n<!-- {args.queries} ({n} queries), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, command: {' '.join(sys.argv)} -->\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as out:
        out.write(header + table + "\n")


if __name__ == "__main__":
    sys.exit(main())
