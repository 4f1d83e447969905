"""Runs a query set against an index: ingest the documents if needed, search every mode, answer.

The runner takes its index and LLM as arguments (the CLI builds them). Search latency is
the wall time of one ``index.search`` call per query, after one untimed warm-up search per
mode so that model loading is not counted.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pagerag.ingest.errors import ConfigError, PageragError
from pagerag.ingest.options import IngestOptions
from pagerag.pipelines.evaluation.queries import EvalQuery, QueryProblem, QuerySet, check_documents
from pagerag.pipelines.evaluation.runfile import AnswerRecord, ModeRun, QueryRun, RankedPage
from pagerag.retriever.types import Hit, Mode, SearchFilter

if TYPE_CHECKING:
    from pagerag.pipelines.core import PageRAG

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
        ranked = canonical_ties([RankedPage(h.source, h.page, float(h.score)) for h in hits[:k]])
        results.append(QueryRun(query, ranked, latency_ms, error))
        if progress:
            progress(mode, done, len(queries))
    return ModeRun(mode=mode, scope=scope, k=k, queries=tuple(results), info=dict(info or {}))


def canonical_ties(hits: Sequence[RankedPage]) -> tuple[RankedPage, ...]:
    """Put each run of adjacent hits with exactly equal scores in (source, page) order.

    The engine orders exact ties arbitrarily (RRF scores tie often), which would move
    metrics between identical runs; everything else keeps the order the retriever returned.

    Example:
        >>> [h.page for h in canonical_ties([RankedPage("a", 9, 0.5), RankedPage("a", 2, 0.5)])]
        [2, 9]
    """
    out: list[RankedPage] = []
    start = 0
    for end in range(1, len(hits) + 1):
        if end == len(hits) or hits[end].score != hits[start].score:
            out += sorted(hits[start:end], key=lambda h: (h.source, h.page))
            start = end
    return tuple(out)


ANSWER_PAGES = ("retrieved", "gold")
"""What the answer step reads: the retrieved pages (the system), or the gold pages (the answerer alone)."""


class GoldPages:
    """A searcher that returns the query's gold pages: the answer step measured without retrieval.

    Example:
        >>> gold = GoldPages({("a.pdf", 2): hit})  # doctest: +SKIP
        >>> gold.of(query).search_scored("anything")[0]  # doctest: +SKIP
    """

    def __init__(self, pages: Mapping[tuple[str, int], Hit]) -> None:
        self.pages = dict(pages)
        self.wanted: list[tuple[str, int]] = []

    def of(self, query: EvalQuery) -> GoldPages:
        """This searcher, set to answer with ``query``'s gold pages."""
        self.wanted = [(query.doc, p) for p in query.pages]
        return self

    def search_scored(
        self, query: str, *, k: int = 10, filter: SearchFilter | None = None
    ) -> tuple[list[Hit], float]:
        hits = [self.pages[key] for key in self.wanted if key in self.pages][:k]
        return hits, float("inf") if hits else 0.0  # given pages are relevant by definition


def gold_pages(rag: PageRAG, queries: Sequence[EvalQuery]) -> GoldPages:
    """The gold pages of ``queries`` as hits, read from the index's page catalog."""
    from pagerag.ingest.catalog import Catalog

    wanted = {q.doc for q in queries}
    pages: dict[tuple[str, int], Hit] = {}
    with Catalog.open(rag.index_dir) as catalog:
        for doc in catalog.documents():
            if doc.source in wanted:
                for p in catalog.pages(doc.doc_id):
                    pages[(p.source, p.page)] = Hit(p.source, p.page, 1.0, p.text, p.image_path, p.doc_id)
    return GoldPages(pages)


def run_answers(
    index: Any,
    queries: Sequence[EvalQuery],
    *,
    llm: Any,
    scope: str = "corpus",
    k: int = 5,
    progress: Progress | None = None,
    words: Any = None,
    gold: GoldPages | None = None,
) -> dict[str, AnswerRecord]:
    """Run the answer step (``pagerag.pipelines.answer.ask``) for every query with a reference answer.

    Args:
        index: the searcher (``PageIndex``).
        queries: the queries; those without a reference answer are skipped.
        llm: the answer model.
        scope: ``corpus`` or ``doc``.
        k: pages given to the answer step.
        progress: called after each query.
        words: a page's word boxes (``PageRAG.words`` of a hit): table rows for the extractive answerer.
        gold: answer from each query's gold pages instead of searching ``index``.

    Returns:
        query id -> the answer text, the (source, page) pairs it cites, its time or its error.
    """
    from pagerag.pipelines.answer import ask

    todo = [q for q in queries if q.answer]
    out: dict[str, AnswerRecord] = {}
    for done, query in enumerate(todo, start=1):
        start = time.perf_counter()
        try:
            answer = ask(
                query.query,
                index=index if gold is None else gold.of(query),
                llm=llm,
                k=k,
                filter=scope_filter(query, scope) if gold is None else None,
                words=words,
            )
            cited = tuple((h.source, int(h.page)) for h in _cited_hits(answer))
            out[query.id] = AnswerRecord(str(answer.text), cited, time.perf_counter() - start)
        except PageragError as exc:
            out[query.id] = AnswerRecord("", (), time.perf_counter() - start, f"{type(exc).__name__}: {exc}")
        if progress:
            progress("answers" if gold is None else "answers (gold pages)", done, len(todo))
    return out


def _cited_hits(answer: Any) -> Sequence[Hit]:
    for name in ("citations", "cited", "sources"):
        value = getattr(answer, name, None)
        if value is not None:
            return list(value)
    return []


def attach_answers(
    run: ModeRun, answers: Mapping[str, AnswerRecord], gold: Mapping[str, AnswerRecord] | None = None
) -> ModeRun:
    """The run with each query's answer records attached (queries without one keep None)."""
    items = tuple(
        replace(item, answer=answers.get(item.query.id), gold_answer=(gold or {}).get(item.query.id))
        for item in run.queries
    )
    return replace(run, queries=items)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A whole evaluation: the queries that ran (and those set aside), one run per mode, the costs."""

    query_set: QuerySet
    runs: tuple[ModeRun, ...]
    info: dict[str, Any]


def evaluate(
    query_set: QuerySet,
    docs: Path,
    *,
    rag: PageRAG,
    modes: Sequence[Mode],
    scope: str = "corpus",
    k: int = 10,
    llm: Any = None,
    answer_k: int = 5,
    answer_pages: Sequence[str] = ANSWER_PAGES,
    ingest_options: IngestOptions | None = None,
    progress: Progress | None = None,
    show_ingest: bool = False,
    ingest: bool = True,
    on_problem: Callable[[QueryProblem], None] | None = None,
) -> Evaluation:
    """Ingest ``docs`` into the index if needed, then run the query set in every mode (and answer).

    Args:
        query_set: the loaded queries (see :func:`~pagerag.pipelines.evaluation.queries.load_queries`).
        docs: the documents folder the queries' ``doc`` names are relative to.
        rag: the open index.
        modes: retrieval modes to run, each on the same index.
        scope: ``corpus`` or ``doc``.
        k: hits kept per query.
        llm: an LLM for the answer step; None skips it. Answers go with the hybrid run (else the first).
        answer_k: pages the answer step reads.
        answer_pages: ``retrieved`` (the system), ``gold`` (the answerer given the gold pages), or both.
        ingest_options: ``IngestOptions`` (None: defaults).
        progress: called after each query.
        show_ingest: show ingestion's progress bar.
        ingest: False evaluates the index as it is (queries on documents it lacks are set aside).
        on_problem: called for each query set aside (unknown document, missing page, bad line).

    Raises:
        ConfigError: no query of the set can be evaluated.

    Example:
        >>> with PageRAG.open("/tmp/idx") as rag:  # doctest: +SKIP
        ...     ev = evaluate(load_queries(q), docs, rag=rag, modes=["sparse"])
    """
    if scope not in SCOPES:
        raise ConfigError(f"unknown scope {scope!r} (expected one of {', '.join(SCOPES)})")
    created = datetime.now(UTC)
    index, index_dir = rag.index, rag.index_dir
    if ingest:
        ingested = ingest_docs(docs, rag=rag, options=ingest_options, progress=show_ingest)
    else:
        counts = {d.source: d.pages for d in index.documents()}
        ingested = IngestResult(counts, {}, 0.0, 0)
    unsearchable = _unsearchable(index, ingested.page_counts) if ingest else {}
    failed = {**unsearchable, **ingested.failed}
    query_set = check_documents(query_set, ingested.page_counts, failed=failed)
    for problem in query_set.problems:
        if on_problem:
            on_problem(problem)
    if not query_set.queries:
        raise ConfigError(f"{query_set.path}: no query can be evaluated")
    spec = getattr(index, "spec", None)
    info: dict[str, Any] = {
        "queries_file": str(query_set.path),
        "docs": str(docs),
        "index": str(index_dir),
        "created": created.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "models": dict(getattr(spec, "models", None) or {}),
        "recipe": _as_dict(getattr(index, "recipe", None)),
        "llm": str(getattr(llm, "name", "")) if llm is not None else "",
        "ingest": ingested.info() if ingest else {},
        "index_size": index_size(index_dir, ingested.page_counts),
    }
    runs = [
        run_mode(index, query_set.queries, mode=m, scope=scope, k=k, info=info, progress=progress)
        for m in modes
    ]
    if llm is not None and runs:
        unknown = set(answer_pages) - set(ANSWER_PAGES)
        if unknown:
            raise ConfigError(f"answer pages {sorted(unknown)}: expected {' or '.join(ANSWER_PAGES)}")
        common: dict[str, Any] = {
            "llm": llm,
            "scope": scope,
            "k": answer_k,
            "progress": progress,
            "words": lambda hit: rag.words(hit.doc_id, hit.page),
        }
        answers = run_answers(index, query_set.queries, **common) if "retrieved" in answer_pages else {}
        gold = (
            run_answers(index, query_set.queries, gold=gold_pages(rag, query_set.queries), **common)
            if "gold" in answer_pages
            else {}
        )
        at = next((i for i, r in enumerate(runs) if r.mode == "hybrid"), 0)
        runs[at] = attach_answers(runs[at], answers, gold)
    return Evaluation(query_set, tuple(runs), info)


def _unsearchable(index: Any, page_counts: Mapping[str, int]) -> dict[str, str]:
    """Documents the page catalog holds but the vector store does not (an index out of sync)."""
    stored = {d.source for d in index.documents()}
    reason = "in the page catalog but not in the vector store (index out of sync: use a fresh --index)"
    return {source: reason for source in page_counts if source not in stored}


def _as_dict(value: Any) -> dict[str, Any]:
    """A dataclass setting (the hybrid recipe) as a dict for the record; {} for anything else."""
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else {}


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
    rag: PageRAG,
    options: IngestOptions | None = None,
    progress: bool = False,
) -> IngestResult:
    """Bring the index up to date with ``docs`` (incremental: unchanged files are not re-embedded).

    Args:
        docs: the documents folder; sources are relative to it.
        rag: the open index.
        options: rendering, OCR and worker settings (None: defaults).
        progress: show ingestion progress.
    """
    start = time.perf_counter()
    report = rag.ingest(docs, options=options, progress=progress)
    seconds = time.perf_counter() - start
    counts = {d.source: d.pages for d in rag.documents()}
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
    # Allocated blocks, not apparent sizes: the vector store preallocates sparse files.
    if path.is_file():
        return _allocated(path)
    return sum(_allocated(Path(root) / name) for root, _dirs, files in os.walk(path) for name in files)


def _allocated(path: Path) -> int:
    try:
        st = path.stat()
    except OSError:
        return 0
    blocks = getattr(st, "st_blocks", None)
    return st.st_size if blocks is None else min(st.st_size, blocks * 512)
