"""Answer scores: MMLongBench-Doc's rules, numbers recall, and eval's gold-pages setting on a real index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pagerag.pipelines import cli
from pagerag.pipelines.evaluation.metrics import numbers_recall, score_answer
from pagerag.pipelines.evaluation.mmlongbench import answer_type, score, short_answer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("reference", "kind"),
    [
        ("198", "int"),
        ("1,104", "int"),
        ("0.45", "float"),
        ("26%", "int"),
        ("12.5%", "float"),
        ("['3', '4']", "list"),
        ("Not answerable", "none"),
        ("Little Rock", "str"),
    ],
)
def test_answer_types_follow_the_reference(reference: str, kind: str) -> None:
    assert answer_type(reference) == kind


def test_numbers_are_compared_with_the_benchmarks_tolerance() -> None:
    assert score("389,933 [1]", "389933") == 1.0
    assert score("Total data sets available 389,933 [1]", "389933") == 1.0
    assert score("45% [2]", "0.45") == 1.0  # a share written as a percentage
    assert score("0.452", "0.45") == 1.0  # within 1%
    assert score("0.5", "0.45") == 0.0
    # the question's own numbers are not the answer
    assert score("In 2012 it was 3,563 [1]", "3563", question="What was GDP per capita in 2012?") == 1.0


def test_strings_lists_and_not_answerable() -> None:
    assert score("Little Rock [1]", "Little Rock") == 1.0
    assert score("Little Rok [1]", "Little Rock") == pytest.approx(1 - 1 / 11)
    assert score("Springfield [1]", "Little Rock") == 0.0
    listed = "['strategic priority areas', 'strategies', 'objectives']"
    assert score("strategies, objectives and strategic priority areas [1]", listed) == 1.0
    assert score("strategies [1]", "['strategies', 'objectives']") == 0.0
    assert score("Not answerable from these pages.", "Not answerable") == 1.0
    assert score("42 [1]", "Not answerable") == 0.0


def test_the_short_answer_is_the_first_line_without_citations() -> None:
    assert short_answer("389,933 [1].\nTotal data sets available 389,933 [1]") == "389,933"


def test_numbers_recall_ignores_citation_markers() -> None:
    assert numbers_recall("It was 47 [1]", "47 at launch") == 1.0
    assert numbers_recall("It was [1]", "1 at launch") == 0.0
    assert numbers_recall("anything", "no numbers here") is None
    s = score_answer("Total 2023 revenue: $4.2M [1]", "$4.2M in 2023", ["r.pdf#2"], ["r.pdf#2"])
    assert (s.numbers, s.cites_gold, s.answer_type) == (1.0, 1.0, "str")


def test_eval_answers_reports_retrieved_and_gold_pages_by_type(
    sample_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.jsonl"
    report, deck = "fjordlys_quarterly_report_q4_2023.pdf", "seasense_production_flow.pptx"
    rows = [
        {
            "id": "a",
            "query": "What was the total revenue in 2023?",
            "doc": report,
            "pages": [2],
            "answer": "$4.2M",
        },
        {
            "id": "b",
            "query": "How many units were shipped in week 8?",
            "doc": deck,
            "pages": [4],
            "answer": "131",
        },
    ]
    queries.write_text("".join(json.dumps(r) + "\n" for r in rows))
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    args = ["eval", str(queries), "--index", str(index), "--no-ingest", "--modes", "hybrid", "--answers"]
    assert cli.main([*args, "--answer-k", "3", "--json", "--quiet", "--runs", str(tmp_path / "runs")]) == 0
    mode = json.loads(capsys.readouterr().out)["modes"]["hybrid"]
    for key in ("answers", "gold_answers"):
        a = mode[key]
        assert a["n"] == 2 and a["cites_gold"] == 1.0 and a["numbers"] == 1.0
        assert a["by_type"]["int"][0] == 1 and a["by_type"]["int"][1] == 1.0  # "131" scored as the number
    assert mode["gold_answers"]["pages"] == "gold"
