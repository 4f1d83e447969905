"""Eval output: rich tables for people, JSON for machines, Markdown for the record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from pagerag.pipelines.evaluation.metrics import METRICS
from pagerag.pipelines.evaluation.queries import QueryProblem
from pagerag.pipelines.evaluation.summary import BREAKDOWNS, PRIMARY, AnswerSummary, Comparison, Summary

_LABELS = {"ndcg@5": "nDCG@5", "recall@1": "R@1", "recall@5": "R@5", "recall@10": "R@10", "mrr@10": "MRR@10"}
_SIZE_PARTS = ("vectors", "images", "catalog")
_ANSWER_NOTE = (
    "pages: retrieved = the system (hybrid search, then the answer step), gold = the query's gold pages "
    "given (the answer step alone); F1: token F1 after NFKC, case folding, punctuation removal and dropping "
    "a/an/the (citation markers removed); contains: the normalised reference appears as a contiguous token "
    "run in the answer; numbers: share of the reference's numbers the answer states (references with "
    "numbers); cites gold: share of answers citing a gold page; MMLB: MMLongBench-Doc's scoring rules on "
    "the answer's first line (numbers with tolerance, lists, strings by ANLS, 'Not answerable'); "
    "n/a: share of answers saying the pages do not answer; citation precision: share of cited pages "
    "that are gold, over answers that cite."
)


def _main_rows(summaries: Sequence[Summary]) -> tuple[list[str], list[list[str]]]:
    header = ["mode", "n", *(_LABELS[m] for m in METRICS), "p50 ms", "p95 ms", "errors"]
    rows = [
        [
            s.mode,
            str(s.n),
            *(f"{s.metrics[m]:.3f}" for m in METRICS),
            f"{s.latency_p50_ms:.1f}",
            f"{s.latency_p95_ms:.1f}",
            str(s.errors),
        ]
        for s in summaries
    ]
    return header, rows


def _breakdown_rows(summaries: Sequence[Summary], attr: str) -> tuple[list[str], list[list[str]]]:
    header = [attr, "n", *(f"{s.mode} {_LABELS[PRIMARY]}" for s in summaries), "R@5 " + summaries[0].mode]
    first = summaries[0].breakdown[attr]
    by_mode = [{g.value: g for g in s.breakdown[attr]} for s in summaries]
    rows = []
    for group in first:
        cells = [f"{m[group.value].metrics[PRIMARY]:.3f}" if group.value in m else "-" for m in by_mode]
        rows.append([group.value, str(group.n), *cells, f"{group.metrics['recall@5']:.3f}"])
    return header, rows


def _answer_summaries(summaries: Sequence[Summary]) -> list[tuple[str, AnswerSummary]]:
    out = []
    for s in summaries:
        for a in (s.answers, s.gold_answers):
            if a is not None:
                out.append((s.mode if a.pages == "retrieved" else "-", a))
    return out


def _answer_rows(summaries: Sequence[Summary]) -> tuple[list[str], list[list[str]]]:
    header = [
        "pages",
        "retrieval",
        "n",
        "token F1",
        "contains",
        "numbers",
        "cites gold",
        "MMLB",
        "n/a",
        "citation precision",
        "errors",
        "p50 ms",
    ]
    rows = [
        [
            a.pages,
            mode,
            str(a.n),
            f"{a.f1:.3f}",
            f"{a.contains:.3f}",
            f"{a.numbers:.3f}",
            f"{a.cites_gold:.3f}",
            f"{a.mmlb:.3f}",
            f"{a.not_answerable:.3f}",
            f"{a.citation_precision:.3f}",
            str(a.errors),
            f"{a.seconds_p50 * 1000:.1f}",
        ]
        for mode, a in _answer_summaries(summaries)
    ]
    return header, rows


def _answer_type_rows(summaries: Sequence[Summary]) -> tuple[list[str], list[list[str]]]:
    header = ["pages", "answer type", "n", "MMLB", "token F1", "numbers"]
    rows = [
        [a.pages, kind, str(n), f"{mmlb:.3f}", f"{f1:.3f}", f"{numbers:.3f}"]
        for _mode, a in _answer_summaries(summaries)
        for kind, (n, mmlb, f1, numbers) in a.by_type.items()
    ]
    return header, rows


def answer_tables(summaries: Sequence[Summary]) -> str:
    """The answer scores as Markdown: one row per setting, then one per setting and answer type."""
    header, rows = _answer_rows(summaries)
    if not rows:
        return ""
    return f"{_md_table(header, rows)}\n\n{_md_table(*_answer_type_rows(summaries))}"


def cost_lines(info: Mapping[str, Any]) -> list[str]:
    """What the index cost: ingest time, pages, size per page, models (the lines that apply)."""
    lines = []
    ingest = info.get("ingest") or {}
    if ingest:
        per_page = ingest.get("seconds_per_page")
        lines.append(
            f"ingest this run: {ingest.get('pages_indexed', 0)} pages indexed in "
            f"{ingest.get('seconds', 0.0):.1f} s"
            + (f" ({per_page:.2f} s/page)" if per_page else " (index reused)")
        )
    size = info.get("index_size") or {}
    if size.get("pages"):
        parts = ", ".join(
            f"{name} {size[name] / size['pages'] / 1024:.1f} KiB" for name in _SIZE_PARTS if name in size
        )
        lines.append(
            f"index: {size['documents']} documents, {size['pages']} pages, "
            f"{size['total'] / 1e6:.1f} MB = {size['total'] / size['pages'] / 1024:.1f} KiB/page ({parts})"
        )
    if info.get("models"):
        lines.append("models: " + ", ".join(f"{k}={v}" for k, v in sorted(info["models"].items())))
    if info.get("recipe"):
        lines.append("hybrid recipe: " + ", ".join(f"{k}={v}" for k, v in info["recipe"].items()))
    if info.get("llm"):
        lines.append(f"answer model: {info['llm']}")
    return lines


def render(
    summaries: Sequence[Summary],
    console: Console,
    *,
    info: Mapping[str, Any] | None = None,
    problems: Sequence[QueryProblem] = (),
) -> None:
    """Print the evaluation: one row per mode, breakdowns, answers, costs and set-aside lines."""
    if not summaries:
        return
    info = info or {}
    s0 = summaries[0]
    title = f"pagerag eval — {info.get('queries_file', '')} ({s0.n} queries, scope {s0.scope}, k={s0.k})"
    _print_table(console, title, *_main_rows(summaries))
    for attr in BREAKDOWNS:
        if len(s0.breakdown[attr]) > 1:
            _print_table(console, f"by {attr}", *_breakdown_rows(summaries, attr))
    header, rows = _answer_rows(summaries)
    if rows:
        _print_table(console, "answers", header, rows)
        _print_table(console, "answers by type", *_answer_type_rows(summaries))
        console.print(f"[dim]{_ANSWER_NOTE}[/dim]")
    for line in cost_lines(info):
        console.print(line)
    for problem in problems:
        console.print(f"[yellow]skipped[/yellow] {problem}", markup=True, highlight=False)


def _print_table(console: Console, title: str, header: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def to_json(
    summaries: Sequence[Summary],
    *,
    info: Mapping[str, Any] | None = None,
    problems: Sequence[QueryProblem] = (),
    run_files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The machine-readable result: per mode the metrics, latency, breakdowns and answers."""
    return {
        "info": dict(info or {}),
        "modes": {
            s.mode: {
                "n": s.n,
                "scope": s.scope,
                "k": s.k,
                "metrics": s.metrics,
                "latency_ms": {"p50": s.latency_p50_ms, "p95": s.latency_p95_ms},
                "errors": s.errors,
                "breakdown": {
                    attr: {g.value: {"n": g.n, **g.metrics} for g in groups}
                    for attr, groups in s.breakdown.items()
                },
                "answers": asdict(s.answers) if s.answers else None,
                "gold_answers": asdict(s.gold_answers) if s.gold_answers else None,
                "run_file": (run_files or {}).get(s.mode),
            }
            for s in summaries
        },
        "problems": [{"line": p.line, "id": p.query_id, "reason": p.reason} for p in problems],
    }


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(
    summaries: Sequence[Summary],
    *,
    info: Mapping[str, Any] | None = None,
    problems: Sequence[QueryProblem] = (),
    command: str = "",
) -> str:
    """A Markdown report: command, settings, the main table, breakdowns, answers, costs."""
    info = info or {}
    if not summaries:
        return "# pagerag eval\n\nNo queries ran.\n"
    s0 = summaries[0]
    out = ["# pagerag eval", ""]
    if command:
        out += ["```", command, "```", ""]
    out += [
        f"- queries: `{info.get('queries_file', '')}` ({s0.n} evaluated, {len(problems)} set aside)",
        f"- documents: `{info.get('docs', '')}`; index: `{info.get('index', '')}`",
        f"- scope: {s0.scope}; k: {s0.k}; date: {info.get('created', '')}",
        f"- machine: {info.get('machine', '')}",
        *(f"- {line}" for line in cost_lines(info)),
        "",
        "nDCG@5 uses binary relevance on the gold pages of the gold document; recall@k is the share of "
        "gold pages in the top k; MRR@10 is the reciprocal rank of the first gold page within the top 10. "
        "Computed by trec_eval (pytrec-eval-terrier) on the ranked lists as returned "
        "(ties kept in rank order).",
        "",
        _md_table(*_main_rows(summaries)),
        "",
    ]
    for attr in BREAKDOWNS:
        if len(s0.breakdown[attr]) > 1:
            out += [f"## by {attr}", "", _md_table(*_breakdown_rows(summaries, attr)), ""]
    header, rows = _answer_rows(summaries)
    if rows:
        out += ["## answers", "", _md_table(header, rows), "", _ANSWER_NOTE, ""]
        out += ["## answers by type", "", _md_table(*_answer_type_rows(summaries)), ""]
    if problems:
        out += ["## set aside", "", *(f"- {p}" for p in problems), ""]
    return "\n".join(out)


def render_comparison(c: Comparison, console: Console, *, limit: int = 20) -> None:
    """Print metric deltas and the per-query wins and losses of B against A."""
    console.print(f"A: {c.label_a}\nB: {c.label_b}", highlight=False)
    table = Table(title=f"B vs A ({len(c.deltas)} shared queries)", title_justify="left")
    for name, justify in (("metric", "left"), ("A", "right"), ("B", "right"), ("Δ", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name, (a, b) in c.metrics.items():
        table.add_row(_LABELS[name], f"{a:.3f}", f"{b:.3f}", f"{b - a:+.3f}")
    console.print(table)
    console.print(
        f"{_LABELS[PRIMARY]} per query: {len(c.wins)} wins, {len(c.losses)} losses, {c.ties} ties (B vs A)"
    )
    for title, items in (("wins", c.wins), ("losses", c.losses)):
        if not items:
            continue
        detail = Table(title=title, title_justify="left")
        for name in ("id", "A", "B", "Δ", "query"):
            detail.add_column(name, justify="left" if name in ("id", "query") else "right")
        for d in items[:limit]:
            detail.add_row(d.id, f"{d.a:.3f}", f"{d.b:.3f}", f"{d.delta:+.3f}", d.query[:70])
        console.print(detail)
        if len(items) > limit:
            console.print(f"... and {len(items) - limit} more {title}")
    for label, ids in (("only in A", c.only_a), ("only in B", c.only_b), ("gold differs", c.gold_differs)):
        if ids:
            console.print(f"[yellow]{label}[/yellow]: {', '.join(ids)}")


def comparison_json(c: Comparison) -> dict[str, Any]:
    """The comparison as JSON: metric means and deltas, per-query wins, losses and ties."""
    return {
        "a": c.label_a,
        "b": c.label_b,
        "shared": len(c.deltas),
        "metrics": {name: {"a": a, "b": b, "delta": b - a} for name, (a, b) in c.metrics.items()},
        "primary": PRIMARY,
        "wins": [{"id": d.id, "a": d.a, "b": d.b, "delta": d.delta} for d in c.wins],
        "losses": [{"id": d.id, "a": d.a, "b": d.b, "delta": d.delta} for d in c.losses],
        "ties": c.ties,
        "only_a": list(c.only_a),
        "only_b": list(c.only_b),
        "gold_differs": list(c.gold_differs),
    }
