"""`pagerag search`: human output, JSON, batch mode with --scope doc, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pagerag.pipelines.cli import main
from pagerag.retriever import index as index_module
from pagerag.retriever.index import PageIndex

from .conftest import fill  # noqa: TID251
from .fakes import HashEmbedder  # noqa: TID251


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "idx"
    with PageIndex.open(root, embedder=HashEmbedder()) as index:
        fill(index)
    # The CLI builds the embedder named in index.json; here that is the test's hash embedder.
    monkeypatch.setattr(index_module, "_default_embedder", lambda models, device=None: HashEmbedder())
    return root


def test_search_prints_ranked_pages(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "water usage", "--index", str(built), "-k", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("  1. reports/sustainability.pdf  p.2  ")
    assert out[1].strip() == "water usage across factories"


def test_search_json_with_filters(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["search", "budget revenue", "--index", str(built), "--json", "--filter", "source=slides/*"]
    assert main([*args, "--mode", "fusion"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["query"] == "budget revenue"
    assert {h["source"] for h in res["hits"]} == {"slides/kickoff.pptx"}
    assert set(res["hits"][0]) == {
        "doc_id",
        "source",
        "page",
        "label",
        "score",
        "image",
        "thumbnail",
        "snippet",
        "title",
    }


def test_batch_queries_with_doc_scope(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qfile = tmp_path / "q.jsonl"
    lines = [
        {"id": "q1", "query": "revenue europe", "doc": "reports/annual_2023.pdf"},
        {"id": "q2", "query": "revenue europe", "doc": "slides/kickoff.pptx"},
        {"id": "q3", "query": "carbon", "doc": "not/indexed.pdf"},
    ]
    qfile.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    assert (
        main(
            ["search", "--queries", str(qfile), "--json", "--scope", "doc", "-k", "3", "--index", str(built)]
        )
        == 0
    )
    captured = capsys.readouterr()
    rows = [json.loads(x) for x in captured.out.splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]
    top = rows[0]["hits"][0]
    assert (top["source"], top["page"], top["doc_id"]) == ("reports/annual_2023.pdf", 2, "doc-a")
    assert {h["source"] for h in rows[1]["hits"]} == {"slides/kickoff.pptx"} and len(rows[1]["hits"]) == 3
    assert rows[2]["hits"] == []
    assert "not in the index: not/indexed.pdf" in captured.err


def test_usage_and_input_errors(built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--index", str(built)]) == 2
    assert main(["search", "q", "--scope", "doc", "--index", str(built)]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "query": "ok"}\n{"query": "no id"}\n')
    assert main(["search", "--queries", str(bad), "--index", str(built)]) == 1
    assert f"{bad}:2: each line needs an 'id'" in capsys.readouterr().err
    assert main(["search", "q", "--index", str(tmp_path / "nothing")]) == 1
    assert "no index at" in capsys.readouterr().err
    assert main(["search", "q", "--index", str(built), "--filter", "page=x"]) == 2
