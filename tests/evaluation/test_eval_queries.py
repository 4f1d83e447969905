"""Query files: each bad line is named with its line number and reason; the rest still loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pagerag.ingest.errors import ConfigError
from pagerag.pipelines.evaluation.queries import check_documents, load_queries


def _line(**fields: object) -> str:
    base: dict[str, object] = {"id": "q", "query": "what?", "doc": "a.pdf", "pages": [1]}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def test_good_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "queries.jsonl"
    lines = [
        _line(id="q1", pages=[2, 1, 2], answer=198, modality="chart", lang="en"),  # 1 ok
        "",  # 2 blank: ignored
        "{not json",  # 3
        "[1, 2]",  # 4
        _line(id="q2", query=""),  # 5
        _line(id="q3", pages=[]),  # 6
        _line(id="q4", pages=[0]),  # 7
        _line(id="q5", pages="3"),  # 8
        _line(id="q1"),  # 9 duplicate
        _line(id="q6", doc="../etc/passwd"),  # 10
        _line(id="q7", answer={"x": 1}),  # 11
        _line(id="q8", doc="sub\\b.pdf", pages=[3]),  # 12 ok
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    qs = load_queries(path)
    assert [q.id for q in qs.queries] == ["q1", "q8"]
    q1 = qs.queries[0]
    assert (q1.pages, q1.answer, q1.modality, q1.lang, q1.line) == ((1, 2), "198", "chart", "en", 1)
    assert qs.queries[1].doc == "sub/b.pdf"
    by_line = {p.line: p for p in qs.problems}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "not valid JSON" in by_line[3].reason
    assert "JSON object" in by_line[4].reason
    assert "'query'" in by_line[5].reason and by_line[5].query_id == "q2"
    assert (
        "'pages'" in by_line[6].reason and "'pages'" in by_line[7].reason and "'pages'" in by_line[8].reason
    )
    assert "duplicate id 'q1' (first on line 1)" in by_line[9].reason
    assert "inside the documents folder" in by_line[10].reason
    assert "'answer'" in by_line[11].reason
    assert str(by_line[3]).startswith(f"{path}:3: ")
    assert str(by_line[5]).startswith(f"{path}:5 (q2): ")


def test_unknown_documents_and_missing_pages(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        "\n".join(
            [
                _line(id="ok", doc="a.pdf", pages=[1, 3]),
                _line(id="gone", doc="nope.pdf"),
                _line(id="short", doc="a.pdf", pages=[2, 4, 5]),
                _line(id="broken", doc="bad.pdf"),
            ]
        ),
        encoding="utf-8",
    )
    qs = check_documents(load_queries(path), {"a.pdf": 3}, failed={"bad.pdf": "encrypted"})
    assert [q.id for q in qs.queries] == ["ok"]
    reasons = {p.line: (p.query_id, p.reason) for p in qs.problems}
    assert reasons[2] == ("gone", "unknown document 'nope.pdf' (not in the documents folder or not indexed)")
    assert reasons[3] == ("short", "page 4, 5 not in 'a.pdf' (3 pages)")
    assert reasons[4] == ("broken", "document 'bad.pdf' could not be ingested: encrypted")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="query file not found"):
        load_queries(tmp_path / "missing.jsonl")
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"latin1\.jsonl"):
        load_queries(bad)
