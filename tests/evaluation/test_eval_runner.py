"""The runner's logic against a scripted searcher: scopes, errors, warm-up, answers attached."""

from __future__ import annotations

from pathlib import Path

import pytest

from pagerag.ingest.errors import ModelError
from pagerag.pipelines.evaluation.queries import EvalQuery
from pagerag.pipelines.evaluation.runfile import AnswerRecord, RankedPage
from pagerag.pipelines.evaluation.runner import (
    attach_answers,
    canonical_ties,
    index_size,
    run_mode,
    scope_filter,
)
from pagerag.pipelines.evaluation.summary import summarise
from pagerag.retriever.types import Hit, Mode, SearchFilter


class ScriptedIndex:
    """Returns fixed pages per query text; "fail" raises; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str, SearchFilter | None]] = []

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        mode: Mode = "hybrid",
        prefetch: int = 50,
        filter: SearchFilter | None = None,
    ) -> list[Hit]:
        self.calls.append((query, k, mode, filter))
        if query == "fail":
            raise ModelError("model crashed")
        pages = [("a.pdf", 3), ("a.pdf", 1), ("b.pdf", 1)] * 5
        return [Hit(s, p, 1.0 / (i + 1), "", None, "id") for i, (s, p) in enumerate(pages)]


Q = (
    EvalQuery("q1", "first", "a.pdf", (1,), line=1),
    EvalQuery("q2", "fail", "b.pdf", (1,), line=2),
)


def test_run_mode_doc_scope_keeps_k_and_records_errors() -> None:
    index = ScriptedIndex()
    run = run_mode(index, Q, mode="sparse", scope="doc", k=4, info={"docs": "d"})
    # one untimed warm-up call, then one per query
    assert len(index.calls) == 3
    assert index.calls[1] == ("first", 4, "sparse", SearchFilter(sources=("a.pdf",)))
    assert index.calls[2][3] == SearchFilter(sources=("b.pdf",))
    first, second = run.queries
    assert [(h.source, h.page) for h in first.hits] == [
        ("a.pdf", 3),
        ("a.pdf", 1),
        ("b.pdf", 1),
        ("a.pdf", 3),
    ]
    assert second.hits == () and second.error == "ModelError: model crashed"
    assert (run.mode, run.scope, run.k, run.info) == ("sparse", "doc", 4, {"docs": "d"})
    s = summarise(run)
    assert s.errors == 1 and s.per_query["q1"]["mrr@10"] == 0.5 and s.per_query["q2"]["mrr@10"] == 0.0


def test_scopes() -> None:
    assert scope_filter(Q[0], "corpus") is None
    assert scope_filter(Q[0], "doc") == SearchFilter(sources=("a.pdf",))
    with pytest.raises(ValueError, match="unknown scope"):
        scope_filter(Q[0], "page")


def test_attach_answers() -> None:
    run = run_mode(ScriptedIndex(), Q[:1], mode="dense")
    record = AnswerRecord("x", (("a.pdf", 1),), 0.1)
    out = attach_answers(run, {"q1": record})
    assert out.queries[0].answer == record


def test_index_size(tmp_path: Path) -> None:
    (tmp_path / "qdrant").mkdir()
    (tmp_path / "qdrant" / "seg").write_bytes(b"x" * 1000)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "p.png").write_bytes(b"x" * 500)
    (tmp_path / "catalog.sqlite").write_bytes(b"x" * 100)
    (tmp_path / "catalog.sqlite-wal").write_bytes(b"x" * 10)
    size = index_size(tmp_path, {"a.pdf": 2, "b.pdf": 1})
    assert size == {"total": 1610, "vectors": 1000, "images": 500, "catalog": 110, "documents": 2, "pages": 3}


def test_exact_score_ties_get_one_order_and_nothing_else_moves() -> None:
    hits = [
        RankedPage("b.pdf", 1, 0.9),
        RankedPage("z.pdf", 4, 0.5),
        RankedPage("a.pdf", 7, 0.5),
        RankedPage("a.pdf", 2, 0.5),
        RankedPage("c.pdf", 1, 0.7),  # out of score order: stays where the retriever put it
        RankedPage("c.pdf", 2, 0.1),
    ]
    got = [(h.source, h.page) for h in canonical_ties(hits)]
    assert got == [("b.pdf", 1), ("a.pdf", 2), ("a.pdf", 7), ("z.pdf", 4), ("c.pdf", 1), ("c.pdf", 2)]
    assert canonical_ties(list(reversed(hits[1:4]))) == canonical_ties(hits[1:4])
    assert canonical_ties([]) == ()
