"""Evaluation query sets: one JSON object per line, checked line by line.

A line reads ``{"id": "q1", "query": "...", "doc": "report.pdf", "pages": [3, 4],
"answer": "...", "modality": "chart", "qtype": "question", "lang": "en"}``: ``doc`` is a
file name relative to the documents folder, ``pages`` the 1-based gold pages (for a deck,
the slide number counting hidden slides). A bad line never stops the set: it becomes a
:class:`QueryProblem` naming the file, the line and the reason, and the other lines run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from pagerag.ingest.errors import ConfigError

# The optional text fields a line may carry; other keys are kept out of the way, not refused.
_OPTIONAL = ("answer", "modality", "qtype", "lang")


@dataclass(frozen=True, slots=True)
class EvalQuery:
    """One evaluation query and its gold pages.

    Attributes:
        id: unique id within the set.
        query: the question or search text.
        doc: gold document, a path relative to the documents folder (``/`` separators).
        pages: gold pages of ``doc``, 1-based, sorted, without duplicates.
        answer: reference answer ("" when the set has none).
        modality: where the answer lives (text, table, chart, ...), "" when unknown.
        qtype: kind of query (question, keyword, ...), "" when unknown.
        lang: query language code, "" when unknown.
        line: 1-based line number in the query file.
    """

    id: str
    query: str
    doc: str
    pages: tuple[int, ...]
    answer: str = ""
    modality: str = ""
    qtype: str = ""
    lang: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class QueryProblem:
    """A line of the query file that cannot be evaluated, and why."""

    path: str
    line: int
    reason: str
    query_id: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        return f"{where} ({self.query_id}): {self.reason}" if self.query_id else f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class QuerySet:
    """The usable queries of a file plus the lines that were set aside."""

    path: Path
    queries: tuple[EvalQuery, ...]
    problems: tuple[QueryProblem, ...] = ()

    def documents(self) -> list[str]:
        """The gold documents the queries name, sorted."""
        return sorted({q.doc for q in self.queries})


def load_queries(path: Path) -> QuerySet:
    """Read a query file; malformed lines become problems with their line number.

    Args:
        path: the JSON-lines query file.

    Returns:
        The valid queries in file order and one problem per bad line.

    Raises:
        ConfigError: the file cannot be read or is not UTF-8.

    Example:
        >>> qs = load_queries(Path("queries.jsonl"))  # doctest: +SKIP
        >>> [str(p) for p in qs.problems]  # doctest: +SKIP
        ['queries.jsonl:7: not valid JSON (Expecting value: column 1)']
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: query file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the query file ({exc})") from None
    queries: list[EvalQuery] = []
    problems: list[QueryProblem] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            query = _parse_line(raw, number)
        except _LineError as exc:
            problems.append(QueryProblem(str(path), number, exc.reason, exc.query_id))
            continue
        if query.id in first_line:
            reason = f"duplicate id {query.id!r} (first on line {first_line[query.id]})"
            problems.append(QueryProblem(str(path), number, reason, query.id))
            continue
        first_line[query.id] = number
        queries.append(query)
    return QuerySet(path, tuple(queries), tuple(problems))


def check_documents(
    query_set: QuerySet,
    page_counts: Mapping[str, int],
    *,
    failed: Mapping[str, str] | None = None,
) -> QuerySet:
    """Set aside queries whose document is unknown or whose gold pages it does not have.

    Args:
        query_set: queries as loaded.
        page_counts: pages per indexed document, keyed by source (relative to the documents folder).
        failed: documents that exist but did not ingest, with the reason.

    Returns:
        The same set with those queries moved to ``problems`` (with their line numbers).
    """
    failed = failed or {}
    keep: list[EvalQuery] = []
    problems = list(query_set.problems)
    for q in query_set.queries:
        reason = ""
        if q.doc in failed:
            reason = f"document {q.doc!r} could not be ingested: {failed[q.doc]}"
        elif q.doc not in page_counts:
            reason = f"unknown document {q.doc!r} (not in the documents folder or not indexed)"
        else:
            count = page_counts[q.doc]
            missing = [p for p in q.pages if p > count]
            if missing:
                listed = ", ".join(map(str, missing))
                reason = f"page {listed} not in {q.doc!r} ({count} pages)"
        if reason:
            problems.append(QueryProblem(str(query_set.path), q.line, reason, q.id))
        else:
            keep.append(q)
    problems.sort(key=lambda p: p.line)
    return replace(query_set, queries=tuple(keep), problems=tuple(problems))


class _LineError(Exception):
    def __init__(self, reason: str, query_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.query_id = query_id


def _parse_line(raw: str, number: int) -> EvalQuery:
    try:
        obj: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _LineError(f"not valid JSON ({exc.msg}: column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise _LineError(f"expected a JSON object, got {type(obj).__name__}")
    qid = obj.get("id")
    if isinstance(qid, int) and not isinstance(qid, bool):
        qid = str(qid)
    if not isinstance(qid, str) or not qid.strip():
        raise _LineError("missing field 'id' (a non-empty string)")
    for name in ("query", "doc"):
        value = obj.get(name)
        if not isinstance(value, str) or not value.strip():
            raise _LineError(f"missing field {name!r} (a non-empty string)", qid)
    doc = _relative_doc(obj["doc"], qid)
    pages = obj.get("pages")
    if (
        not isinstance(pages, list)
        or not pages
        or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in pages)
    ):
        raise _LineError(f"'pages' must be a non-empty list of 1-based page numbers, got {pages!r}", qid)
    extra: dict[str, str] = {}
    for name in _OPTIONAL:
        value = obj.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _LineError(f"{name!r} must be a string, got {type(value).__name__}", qid)
        extra[name] = str(value)
    return EvalQuery(
        id=qid,
        query=obj["query"].strip(),
        doc=doc,
        pages=tuple(sorted(set(pages))),
        line=number,
        **extra,
    )


def _relative_doc(doc: str, qid: str) -> str:
    posix = PurePosixPath(doc.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts:
        raise _LineError(f"'doc' must be a path inside the documents folder, got {doc!r}", qid)
    return str(posix)
