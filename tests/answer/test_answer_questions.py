"""The default answerer on the real demo index: follow-ups, named pages, table rows, no invented numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pagerag.pipelines.core import PageRAG
from pagerag.pipelines.llm.extractive import NOT_ANSWERABLE


@pytest.fixture(scope="module")
def rag(sample_index: Path) -> PageRAG:
    with PageRAG.open(sample_index) as opened:
        yield opened


def test_a_follow_up_for_another_year_is_not_answered_with_this_years_figure(rag: PageRAG) -> None:
    chat = rag.chat(llm="extractive")
    first = chat.ask("What was the total revenue in 2023?")
    assert "$4.2M" in first.text
    follow = chat.ask("and in 2022?")
    assert "$4.2M" not in follow.text and "2023" not in follow.text
    assert follow.text == NOT_ANSWERABLE and not follow.found  # `answered: false` in JSON


def test_a_named_slide_is_answered_from_not_refused(rag: PageRAG) -> None:
    answer = rag.ask("Summarise slide 3", llm="extractive")
    assert answer.found
    assert answer.citations and (answer.citations[0].source, answer.citations[0].page) == (
        "seasense_production_flow.pptx",
        3,
    )


@pytest.mark.parametrize(
    "question",
    [
        "What was the total revenue in 2023?",
        "How many units were shipped in week 8?",
        "How many sensors does calibration tank B hold?",
        "What test weight did harbour crane No. 7 lift?",
    ],
)
def test_every_number_stated_is_on_the_cited_page(rag: PageRAG, question: str) -> None:
    answer = rag.ask(question, llm="extractive")
    assert answer.citations
    for line in answer.text.splitlines():
        cited = [int(n) for n in re.findall(r"\[(\d+)\]", line)]
        pages = " ".join(answer.hits[n - 1].text for n in cited)
        page_numbers = set(re.findall(r"\d+", pages))
        stated = set(re.findall(r"\d+", re.sub(r"\[\d+\]", "", line)))
        assert stated <= page_numbers, (line, stated - page_numbers)


def test_the_answer_is_short(rag: PageRAG) -> None:
    answer = rag.ask("How many units were shipped in week 8?", llm="extractive")
    assert "131" in answer.text.splitlines()[0]
    assert len(answer.text.splitlines()[0]) < 120
