"""Scores a run: per-query metrics, overall means, latency, breakdowns, and A/B comparison.

A query whose search failed counts as one that retrieved nothing (all metrics 0): it stays
in the denominator so a failing mode never looks better than it is.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pagerag.pipelines.evaluation.metrics import (
    METRICS,
    AnswerScore,
    mean_metrics,
    page_key,
    percentile,
    score_answer,
    score_queries,
)
from pagerag.pipelines.evaluation.runfile import ModeRun, QueryRun

# Query attributes a summary is broken down by.
BREAKDOWNS: tuple[str, ...] = ("modality", "qtype", "lang")
# The metric that decides a per-query win or loss in a comparison.
PRIMARY = "ndcg@5"


@dataclass(frozen=True, slots=True)
class Group:
    """The mean metrics of the queries sharing one attribute value."""

    value: str
    n: int
    metrics: dict[str, float]


@dataclass(frozen=True, slots=True)
class AnswerSummary:
    """Answer-step scores averaged over the queries that have a reference answer.

    Attributes:
        n: queries scored (those with a reference answer).
        f1: mean normalised token F1.
        contains: share whose answer contains the normalised reference.
        citation_precision: mean share of cited pages that are gold, over answers citing something.
        cited_rate: share of answers citing at least one page.
        errors: answers that failed.
        seconds_p50: median answer time.
        numbers: mean share of the reference's numbers the answer states (references with numbers).
        cites_gold: share of answers citing a gold page.
        mmlb: mean MMLongBench-Doc score (numbers with tolerance, lists, strings by ANLS).
        not_answerable: share of answers saying the pages do not answer.
        pages: ``retrieved`` (the system) or ``gold`` (the query's gold pages given: the answerer alone).
        by_type: answer type (``int``, ``float``, ``str``, ``list``, ``none``) -> (n, mmlb, F1, numbers).
    """

    n: int
    f1: float
    contains: float
    citation_precision: float
    cited_rate: float
    errors: int
    seconds_p50: float
    numbers: float = 0.0
    cites_gold: float = 0.0
    mmlb: float = 0.0
    not_answerable: float = 0.0
    pages: str = "retrieved"
    by_type: dict[str, tuple[int, float, float, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything reported about one run."""

    mode: str
    scope: str
    k: int
    n: int
    metrics: dict[str, float]
    latency_p50_ms: float
    latency_p95_ms: float
    errors: int
    per_query: dict[str, dict[str, float]]
    breakdown: dict[str, tuple[Group, ...]]
    answers: AnswerSummary | None = None
    gold_answers: AnswerSummary | None = None


def gold_keys(item: QueryRun) -> list[str]:
    """The page keys of a query's gold pages."""
    return [page_key(item.query.doc, p) for p in item.query.pages]


def hit_keys(item: QueryRun) -> list[str]:
    """The page keys of a query's hits, in rank order."""
    return [page_key(h.source, h.page) for h in item.hits]


def per_query_metrics(run: ModeRun) -> dict[str, dict[str, float]]:
    """query id -> metrics, scored by trec_eval from the stored hits and gold pages."""
    if not run.queries:
        return {}
    gold = {item.query.id: gold_keys(item) for item in run.queries}
    ranked = {item.query.id: hit_keys(item) for item in run.queries}
    return score_queries(gold, ranked)


def summarise(run: ModeRun) -> Summary:
    """Score a run: overall means, latency p50/p95, breakdowns by modality, qtype and lang."""
    per_query = per_query_metrics(run)
    latencies = [item.latency_ms for item in run.queries if not item.error]
    breakdown: dict[str, tuple[Group, ...]] = {}
    for attr in BREAKDOWNS:
        groups: dict[str, list[str]] = defaultdict(list)
        for item in run.queries:
            groups[getattr(item.query, attr) or "-"].append(item.query.id)
        breakdown[attr] = tuple(
            Group(value, len(ids), mean_metrics(per_query[i] for i in ids))
            for value, ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        )
    return Summary(
        mode=run.mode,
        scope=run.scope,
        k=run.k,
        n=len(run.queries),
        metrics=mean_metrics(per_query.values()),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        errors=sum(1 for item in run.queries if item.error),
        per_query=per_query,
        breakdown=breakdown,
        answers=summarise_answers(run.queries),
        gold_answers=summarise_answers(run.queries, pages="gold"),
    )


def summarise_answers(items: Sequence[QueryRun], *, pages: str = "retrieved") -> AnswerSummary | None:
    """Answer scores over queries with a reference answer; None when no answers were run.

    Args:
        items: the run's queries.
        pages: ``retrieved`` scores the answers from retrieved pages, ``gold`` those from the gold pages.
    """
    from pagerag.pipelines.evaluation.mmlongbench import says_not_answerable

    records = [(item, item.answer if pages == "retrieved" else item.gold_answer) for item in items]
    answered = [(item, rec) for item, rec in records if rec is not None and item.query.answer]
    if not answered:
        return None
    scores = []
    for item, rec in answered:
        cited = [page_key(s, p) for s, p in rec.cited]
        scores.append(
            score_answer(rec.text, item.query.answer, cited, gold_keys(item), question=item.query.query)
        )
    precisions = [s.citation_precision for s in scores if s.citation_precision is not None]
    refused = [says_not_answerable(rec.text) for _item, rec in answered]
    by_type: dict[str, tuple[int, float, float, float]] = {}
    for kind in sorted({s.answer_type for s in scores}):
        group = [s for s in scores if s.answer_type == kind]
        by_type[kind] = (
            len(group),
            _mean(s.mmlb for s in group),
            _mean(s.f1 for s in group),
            _numbers(group),
        )
    return AnswerSummary(
        n=len(scores),
        f1=statistics.fmean(s.f1 for s in scores),
        contains=statistics.fmean(s.contains for s in scores),
        citation_precision=statistics.fmean(precisions) if precisions else 0.0,
        cited_rate=len(precisions) / len(scores),
        errors=sum(1 for _item, rec in answered if rec.error),
        seconds_p50=percentile([rec.seconds for _item, rec in answered], 50),
        numbers=_numbers(scores),
        cites_gold=_mean(s.cites_gold for s in scores),
        mmlb=_mean(s.mmlb for s in scores),
        not_answerable=_mean(float(r) for r in refused),
        pages=pages,
        by_type=by_type,
    )


def _mean(values: Iterable[float]) -> float:
    found = list(values)
    return statistics.fmean(found) if found else 0.0


def _numbers(scores: Sequence[AnswerScore]) -> float:
    """Mean numbers recall over the answers whose reference holds a number (0.0 when none does)."""
    return _mean(s.numbers for s in scores if s.numbers is not None)


@dataclass(frozen=True, slots=True)
class QueryDelta:
    """One query's primary metric in run A and run B."""

    id: str
    query: str
    a: float
    b: float

    @property
    def delta(self) -> float:
        return self.b - self.a


@dataclass(frozen=True, slots=True)
class Comparison:
    """Run B against run A on the queries both hold (matched by id).

    Attributes:
        metrics: metric -> (mean in A, mean in B) over the shared queries.
        deltas: per shared query, the primary metric (nDCG@5) in A and B.
        only_a: ids only in A; only_b: ids only in B.
        gold_differs: shared ids whose gold document or pages differ (different query sets?).
    """

    label_a: str
    label_b: str
    metrics: dict[str, tuple[float, float]]
    deltas: tuple[QueryDelta, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    gold_differs: tuple[str, ...]

    @property
    def wins(self) -> tuple[QueryDelta, ...]:
        """Queries where B beats A, biggest gain first."""
        return tuple(sorted((d for d in self.deltas if d.delta > 0), key=lambda d: (-d.delta, d.id)))

    @property
    def losses(self) -> tuple[QueryDelta, ...]:
        """Queries where B is worse than A, biggest loss first."""
        return tuple(sorted((d for d in self.deltas if d.delta < 0), key=lambda d: (d.delta, d.id)))

    @property
    def ties(self) -> int:
        return sum(1 for d in self.deltas if d.delta == 0)


def compare(a: ModeRun, b: ModeRun, *, label_a: str = "A", label_b: str = "B") -> Comparison:
    """Compare two runs query by query on :data:`PRIMARY` and on the mean of every metric.

    Example:
        >>> c = compare(load_run(Path("a-sparse.json")), load_run(Path("a-hybrid.json")))  # doctest: +SKIP
        >>> len(c.wins), len(c.losses)  # doctest: +SKIP
        (12, 3)
    """
    qa = {item.query.id: item for item in a.queries}
    qb = {item.query.id: item for item in b.queries}
    shared = [qid for qid in qa if qid in qb]
    ma, mb = per_query_metrics(a), per_query_metrics(b)
    metrics = {
        name: (
            statistics.fmean(ma[q][name] for q in shared) if shared else 0.0,
            statistics.fmean(mb[q][name] for q in shared) if shared else 0.0,
        )
        for name in METRICS
    }
    deltas = tuple(QueryDelta(q, qa[q].query.query, ma[q][PRIMARY], mb[q][PRIMARY]) for q in shared)
    differs = tuple(
        q for q in shared if (qa[q].query.doc, qa[q].query.pages) != (qb[q].query.doc, qb[q].query.pages)
    )
    return Comparison(
        label_a=label_a,
        label_b=label_b,
        metrics=metrics,
        deltas=deltas,
        only_a=tuple(q for q in qa if q not in qb),
        only_b=tuple(q for q in qb if q not in qa),
        gold_differs=differs,
    )
