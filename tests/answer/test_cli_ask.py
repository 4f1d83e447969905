"""`pagerag ask` and `pagerag chat` on the command line: streaming text, sources block, JSON schema."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from pagerag.pipelines import cli
from pagerag.pipelines.answer import Chat
from pagerag.pipelines.commands import ask as ask_command
from pagerag.pipelines.llm import LLM
from pagerag.retriever.types import SearchFilter

from .conftest import TinyIndex
from .fake_openai import serve

QUESTION = "What was the total revenue in 2023?"


class TinyRAG:
    """What the CLI needs of an open index, over the tiny index (the CLI logic is under test here)."""

    def __init__(self, index: TinyIndex) -> None:
        self.index = index

    def chat(self, *, k: int, llm: LLM, filters: SearchFilter | None, min_relevance: float | None) -> Chat:
        return Chat(index=self.index, llm=llm, k=k, filter=filters, min_relevance=min_relevance or None)

    def __enter__(self) -> TinyRAG:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.fixture
def index_dir(tmp_path: Path, tiny_index: TinyIndex, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI opens this tiny index instead of a PageIndex (the CLI logic is under test here)."""
    path = tmp_path / "index"
    path.mkdir()
    monkeypatch.setattr(ask_command, "open_rag", lambda *_: TinyRAG(tiny_index))
    monkeypatch.delenv("PAGERAG_LLM", raising=False)
    return path


def test_json_output_matches_the_schema(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", QUESTION, "--index", str(index_dir), "--json", "-k", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {
        "question",
        "answer",
        "answered",
        "citations",
        "hits",
        "search_query",
        "llm",
        "timings",
    }
    assert isinstance(data["answer"], str) and "$4.2M [1]" in data["answer"] and data["answered"] is True
    assert data["citations"], "the answer cites a page"
    hit_fields = {"doc_id", "source", "page", "label", "score", "image", "thumbnail", "snippet", "title"}
    for c in data["citations"]:
        assert set(c) == {"n", *hit_fields}
        assert isinstance(c["source"], str) and isinstance(c["page"], int)
        assert isinstance(c["score"], float) and (c["image"] is None or Path(c["image"]).exists())
    assert (data["citations"][0]["source"], data["citations"][0]["page"]) == ("fjordlys_report.pdf", 2)
    assert len(data["hits"]) == 3
    for h in data["hits"]:
        assert set(h) == hit_fields


def test_plain_output_streams_the_answer_then_the_sources(
    index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ask", QUESTION, "--index", str(index_dir)]) == 0
    out = capsys.readouterr().out
    answer, sources = out.split("\nSources:\n")
    assert answer.strip().startswith("Total 2023 revenue: $4.2M [1]")
    assert "[1] fjordlys_report.pdf, page 2 (score " in sources
    assert ".png" in sources


def test_filters_are_parsed_and_passed(index_dir: Path, tiny_index: TinyIndex) -> None:
    args = ["ask", "test weight", "--index", str(index_dir), "--json", "--filter", "source=crane_memo.pdf"]
    assert cli.main([*args, "--filter", "page=1-3", "--filter", "lang=en"]) == 0
    assert tiny_index.filters[-1] == SearchFilter(
        sources=("crane_memo.pdf",), page_min=1, page_max=3, fields=(("lang", "en"),)
    )


def test_bad_filter_is_a_usage_error(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", "q", "--index", str(index_dir), "--filter", "page=two"]) == 2
    assert "page=N or page=N-M" in capsys.readouterr().err
    assert cli.main(["ask", "q", "--index", str(index_dir), "--filter", "novalue"]) == 2


def test_missing_index_and_unknown_llm_are_clear_errors(
    tmp_path: Path, index_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()
    assert cli.main(["ask", "q", "--index", str(tmp_path / "nowhere")]) == 1
    assert "no index here" in capsys.readouterr().err
    assert cli.main(["ask", "q", "--index", str(index_dir), "--llm", "gpt5"]) == 1
    assert "unknown LLM 'gpt5'" in capsys.readouterr().err


def test_openai_llm_from_the_environment_and_invented_citations_reported(
    index_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve() as (url, state):
        monkeypatch.setenv("PAGERAG_LLM_URL", url)
        monkeypatch.setenv("PAGERAG_LLM", "openai:invent")
        monkeypatch.setenv("PAGERAG_LLM_KEY", "secret")
        assert cli.main(["ask", QUESTION, "--index", str(index_dir), "--no-stream"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Revenue was $4.2M [1].")
    assert "note: removed citation [9]" in err
    assert state.headers[-1]["Authorization"] == "Bearer secret"


def test_llm_errors_exit_1_with_the_reason(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve() as (url, _):
        code = cli.main(
            ["ask", QUESTION, "--index", str(index_dir), "--llm", "openai:missing", "--llm-url", url]
        )
    assert code == 1
    assert "model 'missing'" in capsys.readouterr().err


def test_chat_reads_questions_until_the_end_of_input_skipping_empty_lines(
    index_dir: Path,
    tiny_index: TinyIndex,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        sys, "stdin", io.StringIO("What was the total revenue of Fjordlys in 2023?\n\nAnd Q4?\n\n")
    )
    assert cli.main(["chat", "--index", str(index_dir), "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("Sources:") == 2
    assert tiny_index.queries[-1] == "And Q4? (What was the total revenue of Fjordlys in 2023?)"


def test_min_relevance_option(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli.main(["ask", QUESTION, "--index", str(index_dir), "--json", "--min-relevance", "5"]) == 0
    refused = json.loads(capsys.readouterr().out)
    assert refused["answer"].startswith("No indexed page seems to answer") and not refused["citations"]
    assert refused["hits"], "the closest pages are still listed"
    assert cli.main(["ask", QUESTION, "--index", str(index_dir), "--json", "--min-relevance", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["citations"]
