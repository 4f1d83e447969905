"""`make demo` for real: ingest sample_docs/, then `pagerag ask` answers with the right page cited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pagerag.pipelines import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_docs"

# The demo questions of sample_docs/README.md and the one page each is answered on.
QUESTIONS = [
    ("What was the total revenue in 2023 according to the chart in the quarterly report?", "$4.2M",
     "fjordlys_quarterly_report_q4_2023.pdf", 2),
    ("How long does one SeaSense unit spend in the calibration tank?", "47 minutes",
     "seasense_production_flow.pptx", 2),
    ("How many sensors does calibration tank B hold?", "12 sensors", "seasense_production_flow.pptx", 3),
    ("How many units were shipped in week 8?", "131", "seasense_production_flow.pptx", 4),
    ("What test weight did harbour crane No. 7 lift in its load test?", "42 tonnes",
     "crane_inspection_memo_scan.pdf", 1),
    ("How much drinking water did the Kesselbrunn waterworks pump in 2023?", "3,7 Millionen Kubikmeter",
     "stadtwerke_kesselbrunn_jahresbericht_2023.pdf", 1),
]  # fmt: skip


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("demo") / "index"
    docs = sorted(str(p) for p in SAMPLES.iterdir() if p.suffix in (".pdf", ".pptx"))
    assert cli.main(["ingest", *docs, "--index", str(index)]) == 0
    return index


@pytest.mark.slow
@pytest.mark.parametrize(("question", "fact", "source", "page"), QUESTIONS)
def test_default_answer_cites_the_page_that_holds_the_fact(
    demo_index: Path, question: str, fact: str, source: str, page: int, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["ask", question, "--index", str(demo_index), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    first = data["citations"][0]
    assert (first["source"], first["page"]) == (source, page)
    assert Path(first["image"]).is_file()
    assert fact in data["answer"].splitlines()[0]


@pytest.mark.slow
def test_a_question_about_nothing_indexed_lists_the_closest_pages(
    demo_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["ask", "What is the capital of Mongolia?", "--index", str(demo_index)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No indexed page seems to answer this question. The closest pages are:")
    assert "Sources:" not in out
