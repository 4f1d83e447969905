"""The extractive answerer: the best-matching source sentences, cited, never invented."""

from __future__ import annotations

import re

from pagerag.pipelines.llm import build_llm
from pagerag.pipelines.llm.extractive import ExtractiveLLM
from pagerag.pipelines.prompt import NOT_FOUND, build_prompt

from .conftest import PAGES, hits_of


def _answer(question: str, pages: list[tuple[str, int, str]], *, stream: bool = False) -> str:
    prompt = build_prompt(question, hits_of(pages), context_tokens=8192, max_new_tokens=256)
    return "".join(ExtractiveLLM().generate(prompt, stream=stream))


def _pages() -> list[tuple[str, int, str]]:
    return [(s, p, t) for (s, p), t in PAGES.items()]


def test_quotes_the_sentence_that_answers_with_its_citation() -> None:
    text = _answer("What test weight did crane No. 7 lift in its load test?", _pages())
    first = text.splitlines()[0]
    assert "42 tonnes" in first and first.endswith("[3]")


def test_chart_labels_on_short_ocr_lines_are_found() -> None:
    text = _answer("What was the total revenue in 2023?", _pages())
    assert text.splitlines()[0] == "Total 2023 revenue: $4.2M [2]"


def test_wrapped_prose_lines_are_joined_into_one_sentence() -> None:
    page = (
        "Harbour crane No. 7 on the quay passed its annual load test today. The crane lifted the\n"
        "certified test weight of 42 tonnes at a radius of 18 metres without any fault.\n\nSigned: I. S."
    )
    text = _answer("What test weight did the crane lift?", [("memo.pdf", 1, page)])
    assert text.splitlines()[0] == (
        "The crane lifted the certified test weight of 42 tonnes at a radius of 18 metres "
        "without any fault. [1]"
    )


def test_accents_and_plurals_match() -> None:
    text = _answer("Wie viel Trinkwasser förderte das Wasserwerk?", _pages())
    assert "3,7 Millionen Kubikmeter" in text and "[4]" in text


def test_never_invents_every_quote_is_in_its_source() -> None:
    pages = _pages()
    for question in (
        "revenue 2023",
        "crane test weight",
        "Kesselbrunn Trinkwasser",
        "marine sensors company",
    ):
        for line in _answer(question, pages).splitlines():
            quote, n = re.fullmatch(r"(.*) \[(\d+)\]", line).groups()  # type: ignore[union-attr]
            source_text = " ".join(pages[int(n) - 1][2].split())
            assert quote.rstrip(" …") in source_text


def test_says_so_when_nothing_matches() -> None:
    assert _answer("What is the capital of Mongolia?", _pages()) == NOT_FOUND
    assert _answer("the of and", _pages()) == NOT_FOUND
    assert _answer("revenue", []) == NOT_FOUND


def test_streaming_yields_one_cited_sentence_at_a_time() -> None:
    prompt = build_prompt("revenue quarter 2023", hits_of(_pages()), context_tokens=8192, max_new_tokens=256)
    pieces = list(ExtractiveLLM(sentences=2).generate(prompt, stream=True))
    assert 1 <= len(pieces) <= 2
    assert all(re.search(r"\[\d\]$", p) for p in pieces)
    assert "".join(pieces) == "".join(ExtractiveLLM(sentences=2).generate(prompt, stream=False))


def test_none_and_extractive_specs_build_it() -> None:
    assert build_llm("none").name == build_llm("extractive").name == "extractive"


def _prompt_with_layout(question: str, text: str, layout: str, source: str = "t.pdf") -> str:
    from dataclasses import replace

    prompt = build_prompt(question, hits_of([(source, 2, text)]), context_tokens=8192, max_new_tokens=256)
    prompt = replace(prompt, sources=(replace(prompt.sources[0], layout=layout),))
    return "".join(ExtractiveLLM().generate(prompt, stream=False))


def test_a_table_cell_answers_before_its_row() -> None:
    page = (
        "Data sets by date\nMay 21, 2009 | May 21, 2010 | Sept. 30, 2011\n"
        "Total data sets available | 47 | 272,768 | 389,933"
    )
    text = _answer("How many data sets were available by September 30, 2011?", [("gsa.pdf", 2, page)])
    first, second = text.splitlines()[:2]
    assert first == "Total data sets available, Sept. 30, 2011: 389,933 [1]"
    assert second.startswith("Total data sets available | 47 | 272,768 | 389,933")


def test_rows_rebuilt_from_word_boxes_give_the_values_of_a_one_cell_per_line_table() -> None:
    text = "Exports\n2006\n2007\nFish exports\n1,249\n1,104\nAll exports\n46,569\n55,933"
    layout = "Exports\n2006 | 2007\nFish exports | 1,249 | 1,104\nAll exports | 46,569 | 55,933"
    answer = _prompt_with_layout("What was the value of fish exports in 2007?", text, layout)
    assert answer.splitlines()[0] == "Fish exports, 2007: 1,104 [1]"


def test_a_year_on_none_of_the_pages_is_not_answered_with_another_years_figure() -> None:
    assert _answer("What was the total revenue in 2022?", _pages()) == NOT_FOUND
    assert "$4.2M" in _answer("What was the total revenue in 2023?", _pages())


def test_a_find_the_slide_question_names_the_slide_first() -> None:
    pages = [("deck.pptx", 6, "Steps in award stage\n1. Initial conference\n2. Exposure draft published")]
    text = _answer("Find the slide listing the steps of the award stage", pages)
    assert text.splitlines()[0] == "Slide 6 [1]"


def test_the_answer_is_the_short_line_not_three_sentences() -> None:
    page = (
        "Quarterly report. Revenue grew in every quarter of the year.\n"
        "Stage 1 — March 2014 to mid-2015\nStage 3 — March 2015 to late-2015\n"
        "Stage 4 — March 2015 to early-2016"
    )
    text = _answer("When was stage 3 scheduled to run?", [("r.pdf", 1, page)])
    assert text.splitlines()[0] == "Stage 3 — March 2015 to late-2015 [1]"
