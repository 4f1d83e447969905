"""Every command's JSON against docs/schema/pagerag.schema.json (the HTTP API: tests/serve)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from schema_check import conforms

from pagerag.pipelines import cli

QUESTION = "What was the total revenue in 2023 according to the chart in the quarterly report?"


@pytest.fixture(scope="module")
def index(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("json") / "index"
    shutil.copytree(sample_index, copy)
    return copy


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    def call(*argv: str) -> str:
        capsys.readouterr()
        assert cli.main(list(argv)) == 0
        return capsys.readouterr().out

    return call


def test_search_ask_and_list(index: Path, run: Callable[..., str], tmp_path: Path) -> None:
    found = json.loads(run("search", "total revenue 2023", "--index", str(index), "-k", "3", "--json"))
    conforms(found, "search")
    assert found["hits"][0]["label"] is None or isinstance(found["hits"][0]["label"], int)
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "query": "revenue"}\n{"id": 2, "query": "crane"}\n')
    for line in run("search", "--queries", str(queries), "--index", str(index), "--json").splitlines():
        conforms(json.loads(line), "search_line")
    answer = json.loads(run("ask", QUESTION, "--index", str(index), "--json"))
    conforms(answer, "answer")
    assert answer["answered"] and answer["citations"][0]["n"] == 1
    declined = json.loads(run("ask", "capital of Mongolia", "--index", str(index), "--json"))
    conforms(declined, "answer")
    assert declined["answered"] is False and declined["citations"] == []
    conforms(json.loads(run("list", "--index", str(index), "--json")), "documents")


def test_ingest_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(Path(__file__).parents[1] / "sample_docs" / "fjordlys_quarterly_report_q4_2023.pdf", docs)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    assert (
        cli.main(["ingest", str(docs), "--index", str(tmp_path / "index"), "--json"]) == 1
    )  # broken.pdf failed
    report = json.loads(capsys.readouterr().out)
    conforms(report, "ingest_report")
    assert report["indexed"] == 1 and report["failed"][0]["path"].endswith("broken.pdf")


def test_the_schema_rejects_the_old_shapes() -> None:
    old_search_hit = {"doc": "a.pdf", "page": 1, "score": 0.5}
    with pytest.raises(AssertionError, match="required property"):
        conforms(old_search_hit, "hit")
    hit = {"doc_id": "x", "source": "a.pdf", "page": 1, "label": None, "score": 1.0, "image": None}
    with pytest.raises(AssertionError, match="unexpected"):
        conforms({**hit, "thumbnail": None, "snippet": "", "title": "", "image_path": "/a.jpg"}, "hit")
