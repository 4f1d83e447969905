"""Runs a query set against an index: ingest the documents if needed, search every mode, answer.

The runner takes its index and LLM as arguments (the CLI builds them). Search latency is
the wall time of one ``index.search`` call per query, after one untimed warm-up search per
mode so that model loading is not counted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from pagerag.ingest.errors import PageragError
from pagerag.pipelines.evaluation.queries import EvalQuery
from pagerag.pipelines.evaluation.runfile import AnswerRecord, ModeRun, QueryRun, RankedPage
from pagerag.retriever.types import Hit, Mode, SearchFilter

SCOPES = ("corpus", "doc")
# Called after each query: (mode or "answers", queries done, total).
Progress = Callable[[str, int, int], None]


class Searcher(Protocol):
    """What the runner needs of an index (``PageIndex`` has it)."""

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        mode: Mode = "hybrid",
        prefetch: int | None = None,
        filter: SearchFilter | None = None,
    ) -> list[Hit]: ...


def scope_filter(query: EvalQuery, scope: str) -> SearchFilter | None:
    """The search filter of a scope: ``doc`` keeps the query inside its own document."""
    if scope == "doc":
        return SearchFilter(sources=(query.doc,))
    if scope == "corpus":
        return None
    raise ValueError(f"unknown scope {scope!r} (expected one of {', '.join(SCOPES)})")


def run_mode(
    index: Searcher,
    queries: Sequence[EvalQuery],
    *,
    mode: Mode,
    scope: str = "corpus",
    k: int = 10,
    info: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> ModeRun:
    """Search every query in one mode and keep the ranked hits and latencies.

    A query whose search raises a :class:`PageragError` is recorded with its error and no
    hits (it scores 0); the others still run.

    Example:
        >>> run = run_mode(index, query_set.queries, mode="sparse", scope="doc")  # doctest: +SKIP
        >>> summarise(run).metrics["ndcg@5"]  # doctest: +SKIP
        0.642
    """
    if queries:
        # Untimed warm-up: loads models and caches before the first measured query.
        index.search(queries[0].query, k=k, mode=mode, filter=scope_filter(queries[0], scope))
    results: list[QueryRun] = []
    for done, query in enumerate(queries, start=1):
        flt = scope_filter(query, scope)
        start = time.perf_counter()
        try:
            hits = index.search(query.query, k=k, mode=mode, filter=flt)
            error = ""
        except PageragError as exc:
            hits, error = [], f"{type(exc).__name__}: {exc}"
        latency_ms = (time.perf_counter() - start) * 1000.0
        ranked = tuple(RankedPage(h.source, h.page, float(h.score)) for h in hits[:k])
        results.append(QueryRun(query, ranked, latency_ms, error))
        if progress:
            progress(mode, done, len(queries))
    return ModeRun(mode=mode, scope=scope, k=k, queries=tuple(results), info=dict(info or {}))


def run_answers(
    index: Any,
    queries: Sequence[EvalQuery],
    *,
    llm: Any,
    scope: str = "corpus",
    k: int = 5,
    progress: Progress | None = None,
) -> dict[str, AnswerRecord]:
    """Run the answer step (``pagerag.pipelines.answer.ask``) for every query with a reference answer.

    Returns:
        query id -> the answer text, the (source, page) pairs it cites, its time or its error.
    """
    from pagerag.pipelines.answer import ask

    todo = [q for q in queries if q.answer]
    out: dict[str, AnswerRecord] = {}
    for done, query in enumerate(todo, start=1):
        start = time.perf_counter()
        try:
            answer = ask(query.query, index=index, llm=llm, k=k, filter=scope_filter(query, scope))
            cited = tuple((h.source, int(h.page)) for h in _cited_hits(answer))
            out[query.id] = AnswerRecord(str(answer.text), cited, time.perf_counter() - start)
        except PageragError as exc:
            out[query.id] = AnswerRecord("", (), time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
        if progress:
            progress("answers", done, len(todo))
    return out


def _cited_hits(answer: Any) -> Sequence[Hit]:
    for name in ("citations", "cited", "sources"):
        value = getattr(answer, name, None)
        if value is not None:
            return list(value)
    return []


def attach_answers(run: ModeRun, answers: Mapping[str, AnswerRecord]) -> ModeRun:
    """The run with each query's answer record attached (queries without one keep None)."""
    items = tuple(replace(item, answer=answers.get(item.query.id)) for item in run.queries)
    return replace(run, queries=items)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The state of the index after ingesting the documents folder.

    Attributes:
        page_counts: pages per indexed document, keyed by source relative to the folder.
        failed: documents that did not ingest, with the reason.
        seconds: ingest time of this run (checking an up-to-date index included).
        pages_indexed: pages embedded and stored by this run (0: the index was reused).
    """

    page_counts: dict[str, int]
    failed: dict[str, str]
    seconds: float
    pages_indexed: int

    def info(self) -> dict[str, Any]:
        """Ingest costs for the run file."""
        per_page = self.seconds / self.pages_indexed if self.pages_indexed else 0.0
        return {"seconds": self.seconds, "pages_indexed": self.pages_indexed, "seconds_per_page": per_page}


def ingest_docs(
    docs: Path,
    *,
    index_dir: Path,
    sink: Any,
    options: Any = None,
    progress: bool = False,
) -> IngestResult:
    """Bring the index up to date with ``docs`` (incremental: unchanged files are not re-embedded).

    Args:
        docs: the documents folder; sources are relative to it.
        index_dir: the index directory (its page catalog lives there).
        sink: the ``PageIndex`` that embeds and stores the pages.
        options: ``IngestOptions`` (defaults when None).
        progress: show ingestion progress.
    """
    from pagerag.ingest.catalog import Catalog
    from pagerag.ingest.pipeline import IngestOptions, ingest_paths

    catalog = Catalog.open(index_dir)
    try:
        start = time.perf_counter()
        report = ingest_paths(
            [docs], catalog=catalog, sink=sink, options=options or IngestOptions(), progress=progress
        )
        seconds = time.perf_counter() - start
        counts = {d.source: d.pages for d in catalog.documents()}
    finally:
        close = getattr(catalog, "close", None)
        if close:
            close()
    failed = {_relative(p.path, docs): p.reason for p in report.failed}
    return IngestResult(counts, failed, seconds, report.pages_indexed)


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def index_size(index_dir: Path, page_counts: Mapping[str, int]) -> dict[str, int]:
    """Bytes on disk of the index, in total and by part (vectors, images, catalog), and its size.

    Returns:
        ``{"total", "vectors", "images", "catalog", "documents", "pages"}`` (parts that exist).
    """
    parts = {"vectors": ("qdrant",), "images": ("images", "thumbs"), "catalog": ("catalog.sqlite*",)}
    sizes = {"total": _du(index_dir)}
    for name, patterns in parts.items():
        found = [p for pattern in patterns for p in index_dir.glob(pattern)]
        if found:
            sizes[name] = sum(_du(p) for p in found)
    sizes["documents"] = len(page_counts)
    sizes["pages"] = sum(page_counts.values())
    return sizes


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue
    return total
