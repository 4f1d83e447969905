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
