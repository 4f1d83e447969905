"""`pagerag eval`: measure retrieval (and answers) on a query set; compare two runs.

pagerag eval QUERIES.jsonl --docs DIR [--index DIR] [--modes hybrid,dense,sparse]
             [--scope corpus|doc] [-k 10] [--answers] [--llm SPEC] [--llm-url URL]
             [--answer-pages retrieved,gold] [--json] [--report FILE.md]
pagerag eval --compare A.json B.json [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import ConfigError
from pagerag.pipelines.cli import (
    add_model_options,
    add_qdrant_option,
    chosen_models,
    qdrant_api_key,
    qdrant_url,
)
from pagerag.retriever.types import MODES, Mode

DEFAULT_MODES = "hybrid,dense,sparse"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "eval",
        help="measure retrieval and answers on a query set (nDCG@5, recall, MRR, latency)",
        description=(
            "Ingest DOCS into the index if needed, run every query in every mode and report nDCG@5, "
            "recall@1/5/10, MRR@10 and latency, overall and by modality, qtype and lang. "
            "Each mode's run is saved as JSON; compare two with --compare A.json B.json."
        ),
    )
    parser.add_argument(
        "queries", nargs="?", type=Path, help="query file (JSON lines: id, query, doc, pages, ...)"
    )
    parser.add_argument(
        "--docs", type=Path, help="the folder the queries' documents are in (ingested if needed)"
    )
    # Its own dest: the CLI fills a None ``args.index`` with the main index, which eval must not touch.
    parser.add_argument(
        "--index",
        dest="eval_index",
        type=Path,
        default=None,
        help="index directory (default: .pagerag-eval/<DOCS parent>-<DOCS name>; never your main index)",
    )
    parser.add_argument(
        "--modes",
        default=DEFAULT_MODES,
        help=f"comma-separated modes of {','.join(MODES)} (default {DEFAULT_MODES})",
    )
    parser.add_argument(
        "--scope",
        choices=("corpus", "doc"),
        default="corpus",
        help="search everything, or each query's own document",
    )
    parser.add_argument("-k", type=int, default=10, help="hits per query (default 10)")
    add_model_options(parser)
    parser.add_argument(
        "--model", action="append", default=[], metavar="KIND=NAME", help=argparse.SUPPRESS
    )  # the older spelling of --dense/--multi/--sparse
    add_qdrant_option(parser)
    parser.add_argument("--answers", action="store_true", help="also run the answer step and score it")
    parser.add_argument(
        "--llm",
        default=None,
        help="answer model for --answers, as in pagerag ask (default $PAGERAG_LLM or extractive)",
    )
    parser.add_argument("--llm-url", default=None, help="OpenAI-compatible server (default $PAGERAG_LLM_URL)")
    parser.add_argument("--answer-k", type=int, default=5, help="pages given to the answer step (default 5)")
    parser.add_argument(
        "--answer-pages",
        default="retrieved,gold",
        help="what the answer step reads: retrieved (the system), gold (each query's gold pages: the "
        "answerer alone), or both (default retrieved,gold)",
    )
    parser.add_argument(
        "--no-ingest",
        action="store_true",
        help="evaluate the index as it is: do not ingest DOCS (queries on documents it lacks are set aside)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--report", type=Path, help="also write a Markdown report to this file")
    parser.add_argument(
        "--runs", type=Path, help="folder for the run files (default: next to --report, else runs/)"
    )
    parser.add_argument(
        "--compare", nargs=2, type=Path, metavar=("A.json", "B.json"), help="compare two run files"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.compare:
        return _compare(args)
    if args.queries is None or (args.docs is None and not args.no_ingest):
        print("pagerag eval: give QUERIES.jsonl and --docs DIR (or --compare A.json B.json)", file=sys.stderr)
        return 2
    if args.docs is None:
        if args.eval_index is None:
            print("pagerag eval: --no-ingest without --docs needs --index DIR", file=sys.stderr)
            return 2
        args.docs = Path(".")
    elif not args.docs.is_dir():
        raise ConfigError(f"{args.docs}: documents folder not found")
    if args.k < 1 or args.answer_k < 1:
        raise ConfigError("-k and --answer-k must be at least 1")
    modes = _parse_modes(args.modes)
    models = _parse_models(args.model)
    picked = chosen_models(args)
    if picked:
        models = {**picked, **(models or {})} if models else picked
    return _evaluate(args, modes, models)


def _parse_modes(text: str) -> list[Mode]:
    modes: list[Mode] = []
    for name in (m.strip() for m in text.split(",")):
        if name not in MODES:
            raise ConfigError(f"--modes: unknown mode {name!r} (choose from {', '.join(MODES)})")
        if name not in modes:
            modes.append(name)  # type: ignore[arg-type]
    return modes


def _parse_models(items: list[str]) -> dict[str, str] | None:
    models: dict[str, str] = {}
    for item in items:
        kind, sep, name = item.partition("=")
        if not sep or kind not in ("dense", "multi", "sparse") or not name:
            raise ConfigError(f"--model: expected dense=NAME, multi=NAME or sparse=NAME, got {item!r}")
        models[kind] = name
    return models or None


def _evaluate(args: argparse.Namespace, modes: list[Mode], models: dict[str, str] | None) -> int:
    from rich.console import Console

    from pagerag.pipelines.core import PageRAG
    from pagerag.pipelines.evaluation import report
    from pagerag.pipelines.evaluation.queries import load_queries
    from pagerag.pipelines.evaluation.runfile import save_run
    from pagerag.pipelines.evaluation.runner import evaluate
    from pagerag.pipelines.evaluation.summary import summarise

    wide = None if sys.stdout.isatty() else 160
    out = Console(stderr=True) if args.json else Console(width=wide)
    err = Console(stderr=True)
    show = not args.quiet and err.is_terminal
    query_set = load_queries(args.queries)
    docs = args.docs.resolve()  # two sets' folders are often both called docs: the parent tells them apart
    index_dir: Path = args.eval_index or Path(".pagerag-eval") / f"{docs.parent.name}-{docs.name}"
    llm = _build_llm(args) if args.answers else None
    url = qdrant_url(args)
    api_key = qdrant_api_key()
    with PageRAG.open(index_dir, models=models, qdrant_url=url, api_key=api_key) as rag:
        result = evaluate(
            query_set,
            args.docs,
            rag=rag,
            modes=modes,
            scope=args.scope,
            k=args.k,
            llm=llm,
            answer_k=args.answer_k,
            answer_pages=[p.strip() for p in args.answer_pages.split(",") if p.strip()],
            progress=None if args.quiet else _progress(err),
            show_ingest=show,
            ingest=not args.no_ingest,
            on_problem=lambda p: print(f"pagerag eval: skipped {p}", file=sys.stderr),
        )
    info = {**result.info, "command": _command_line()}
    runs, query_set = result.runs, result.query_set
    run_dir = args.runs or (args.report.parent if args.report else Path("runs"))
    stem = args.report.stem if args.report else datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_files = {r.mode: str(save_run(r, run_dir / f"{stem}-{r.mode}.json")) for r in runs}
    summaries = [summarise(r) for r in runs]
    if args.json:
        payload = report.to_json(summaries, info=info, problems=query_set.problems, run_files=run_files)
        print(json.dumps(payload, ensure_ascii=False, indent=1))
    else:
        report.render(summaries, out, info=info)  # problems went to stderr as they were found
        out.print("run files: " + ", ".join(run_files.values()), highlight=False)
    if args.report:
        text = report.to_markdown(
            summaries, info=info, problems=query_set.problems, command=str(info["command"])
        )
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text, encoding="utf-8")
    failed = query_set.problems or any(s.errors for s in summaries)
    return 1 if failed else 0


def _build_llm(args: argparse.Namespace) -> Any:
    from pagerag.pipelines.commands.ask import cache_dir
    from pagerag.pipelines.llm import DEFAULT_LLM, build_llm

    return build_llm(
        args.llm or os.environ.get("PAGERAG_LLM") or DEFAULT_LLM,
        url=args.llm_url or os.environ.get("PAGERAG_LLM_URL"),
        api_key=os.environ.get("PAGERAG_LLM_KEY") or os.environ.get("OPENAI_API_KEY"),
        cache_dir=cache_dir(),
    )


def _command_line() -> str:
    """The command as typed, for the record (empty when not run as ``pagerag``, e.g. under pytest)."""
    if Path(sys.argv[0]).name not in ("pagerag", "__main__.py"):
        return ""
    return "pagerag " + shlex.join(sys.argv[1:])


def _progress(console: Any) -> Any:
    def report(stage: str, done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            console.print(f"[dim]{stage}: {done}/{total}[/dim]", highlight=False)

    return report


def _compare(args: argparse.Namespace) -> int:
    from rich.console import Console

    from pagerag.pipelines.evaluation import report
    from pagerag.pipelines.evaluation.runfile import load_run
    from pagerag.pipelines.evaluation.summary import compare

    path_a, path_b = args.compare
    result = compare(load_run(path_a), load_run(path_b), label_a=str(path_a), label_b=str(path_b))
    if args.json:
        print(json.dumps(report.comparison_json(result), ensure_ascii=False, indent=1))
    else:
        report.render_comparison(result, Console(width=None if sys.stdout.isatty() else 160))
    return 0
