"""What one evaluation run retrieved, per query, and its JSON run file.

A run file holds one mode: the settings, the index it ran on, and per query its gold
pages and the ranked hits (document and page). Metrics are recomputed from these when a
run is reported or compared, so two files are always scored the same way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import ConfigError
from pagerag.pipelines.evaluation.queries import EvalQuery

RUN_FORMAT = 1


@dataclass(frozen=True, slots=True)
class RankedPage:
    """One retrieved page, in rank order within its query."""

    source: str
    page: int
    score: float


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """The answer step's output for one query.

    Attributes:
        text: the generated answer ("" when it failed).
        cited: the (source, page) pairs the answer cites.
        seconds: time the answer step took.
        error: why it failed, "" when it did not.
    """

    text: str
    cited: tuple[tuple[str, int], ...] = ()
    seconds: float = 0.0
    error: str = ""


@dataclass(frozen=True, slots=True)
class QueryRun:
    """One query of a run: the ranked hits, the search latency, the answer if asked."""

    query: EvalQuery
    hits: tuple[RankedPage, ...]
    latency_ms: float
    error: str = ""
    answer: AnswerRecord | None = None
    gold_answer: AnswerRecord | None = None
    """The answer from the query's gold pages alone (the answer step without retrieval)."""


@dataclass(frozen=True, slots=True)
class ModeRun:
    """Every query of a set run in one retrieval mode.

    Attributes:
        mode: retrieval mode (hybrid, dense, sparse, multi, fusion).
        scope: "corpus" (search everything) or "doc" (each query within its own document).
        k: hits kept per query.
        queries: per-query results, in query-file order.
        info: settings and costs (query file, docs, index, models, ingest time, index size, date).
    """

    mode: str
    scope: str
    k: int
    queries: tuple[QueryRun, ...]
    info: dict[str, Any] = field(default_factory=dict)


def save_run(run: ModeRun, path: Path) -> Path:
    """Write ``run`` as JSON to ``path`` (parent folders created); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": RUN_FORMAT, **asdict(run)}
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def load_run(path: Path) -> ModeRun:
    """Read a run file written by :func:`save_run`.

    Raises:
        ConfigError: missing file, not JSON, or not a pagerag run file (names the file and the reason).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: run file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable run file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        raise ConfigError(f"{path}: not a pagerag run file (format {RUN_FORMAT} expected)")
    try:
        return ModeRun(
            mode=str(data["mode"]),
            scope=str(data["scope"]),
            k=int(data["k"]),
            queries=tuple(_query_run(item) for item in data["queries"]),
            info=dict(data.get("info") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: malformed run file ({type(exc).__name__}: {exc})") from None


def _query_run(item: dict[str, Any]) -> QueryRun:
    q = item["query"]
    query = EvalQuery(**{**q, "pages": tuple(int(p) for p in q["pages"])})
    return QueryRun(
        query=query,
        hits=tuple(RankedPage(str(h["source"]), int(h["page"]), float(h["score"])) for h in item["hits"]),
        latency_ms=float(item["latency_ms"]),
        error=str(item.get("error", "")),
        answer=_answer(item.get("answer")),
        gold_answer=_answer(item.get("gold_answer")),
    )


def _answer(answer: dict[str, Any] | None) -> AnswerRecord | None:
    if answer is None:
        return None
    return AnswerRecord(
        text=str(answer["text"]),
        cited=tuple((str(s), int(p)) for s, p in answer.get("cited", ())),
        seconds=float(answer.get("seconds", 0.0)),
        error=str(answer.get("error", "")),
    )
