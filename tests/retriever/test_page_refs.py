"""Questions that name a page ("the figure on page 17", "the cover") get that page first."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pagerag.ingest.types import DocumentInfo, Page
from pagerag.retriever.index import PageIndex
from pagerag.retriever.pagerefs import PageRefs, page_refs
from pagerag.retriever.recipe import DEFAULT_RECIPE

from .conftest import OpenIndex  # noqa: TID251
from .fakes import HashEmbedder  # noqa: TID251


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the title of the diagram on page 9?", PageRefs((9,))),
        ("How many people are in the figure at Page 18", PageRefs((18,))),
        ("Which group is second largest in Slide 4 in 2014?", PageRefs((4,))),
        ("Summarise pages 3-5", PageRefs((3, 4, 5))),
        ("compare p. 2 and pp. 7 to 8", PageRefs((2, 7, 8))),
        ("Was steht auf Seite 12 und 13?", PageRefs((12, 13))),
        ("¿Qué muestra la diapositiva 3?", PageRefs((3,))),
        ("How many people are there in the images on the cover?", PageRefs(first=True)),
        ("the name of the governor on the first page", PageRefs(first=True)),
        ("what is on the last slide", PageRefs(last=1)),
        ("the chart on the second-to-last page", PageRefs(last=2)),
        ("what is the color of the stamp in the 6th page?", PageRefs((6,))),
        ("the words on the third slide and on page two", PageRefs((2, 3))),
        ("Was zeigt die 3. Seite?", PageRefs((3,))),
        ("the second-to-last slide", PageRefs(last=2)),
        ("How many pages does the report have?", PageRefs()),
        ("page views grew in 2019", PageRefs()),
        ("the balance sheet 2023 of the U.S. 2020 unit", PageRefs()),
        ("all of pages 1-200", PageRefs((1, 200))),  # too long a range: only its ends
        # A page placed inside a part of the document is not a position in the whole document.
        ("What is on the first page of the appendix?", PageRefs()),
        ("who is thanked on the last page of the references", PageRefs()),
        ("the figure on the 2nd page in chapter 3", PageRefs()),
        ("the last page of the annual report", PageRefs(last=1)),
        ("the cover of the brochure and page 4 of the appendix", PageRefs((4,), first=True)),
    ],
)
def test_page_refs_are_read_from_questions(question: str, expected: PageRefs) -> None:
    assert page_refs(question) == expected


def test_positions_stay_inside_the_document() -> None:
    assert PageRefs((3, 40), first=True, last=1).positions(12) == (1, 3, 12)
    assert PageRefs(last=2).positions(1) == ()


BROCHURE = [  # position 1 is the cover, 2 the contents; printed page 1 is position 3
    ("Cover: the city brochure", ()),
    ("Contents", ()),
    ("Welcome to the city", (1,)),
    ("Parks and gardens", (2,)),
    ("A photo", (3,)),  # the page the question means: its text does not say what it shows
    ("Museums of the city in the photo opposite", (4,)),
    ("Transport map", (5,)),
    ("Back cover contact", (6,)),
]


def _brochure(index: PageIndex) -> None:
    pages = [
        Page(doc_id="bro", source="brochure.pdf", page=i, page_count=len(BROCHURE), text=t, labels=lab)
        for i, (t, lab) in enumerate(BROCHURE, 1)
    ]
    index.write(DocumentInfo("bro", "brochure.pdf", len(pages)), pages)
    index.publish("bro")
    other = [
        Page(doc_id="oth", source="other.pdf", page=i, page_count=3, text=f"harbour ferry timetable {i}")
        for i in (1, 2, 3)
    ]
    index.write(DocumentInfo("oth", "other.pdf", 3), other)
    index.publish("oth")


def test_named_pages_come_first_printed_number_before_position(open_index: OpenIndex) -> None:
    index = open_index()
    _brochure(index)
    src = "brochure.pdf"
    hits = index.search("what does the photo on page 3 of the brochure show", k=4)
    assert [(h.source, h.page) for h in hits[:2]] == [(src, 5), (src, 3)]  # printed 3, then position 3
    cover = index.search("city brochure cover photo", k=3)
    assert (cover[0].source, cover[0].page) == (src, 1)
    last = index.search("city brochure contact on the last page", k=3)
    assert (last[0].source, last[0].page) == (src, 8)


def test_named_pages_are_taken_from_the_best_hits_document_only(open_index: OpenIndex) -> None:
    index = open_index()
    _brochure(index)
    hits = index.search("harbour ferry timetable page 2", k=3)
    assert (hits[0].source, hits[0].page) == ("other.pdf", 2)
    assert ("brochure.pdf", 2) not in [(h.source, h.page) for h in hits]


def test_page_refs_can_be_switched_off_and_other_modes_ignore_them(tmp_path: Path) -> None:
    no_refs = replace(DEFAULT_RECIPE, page_refs=False)
    with PageIndex.open(tmp_path, embedder=HashEmbedder(), recipe=no_refs) as index:
        _brochure(index)
        plain = index.search("Museums of the city in the photo on page 5", k=3)
        assert (plain[0].source, plain[0].page) == ("brochure.pdf", 6)  # the page whose text matches
        assert index.search("Museums of the city in the photo on page 5", k=3, mode="sparse")[0].page == 6


def test_a_named_page_keeps_its_score_in_the_querys_own_ranking(tmp_path: Path) -> None:
    question = "Museums of the city in the photo on page 5"
    with PageIndex.open(
        tmp_path / "plain", embedder=HashEmbedder(), recipe=replace(DEFAULT_RECIPE, page_refs=False)
    ) as plain:
        _brochure(plain)
        own = {(h.source, h.page): h.score for h in plain.search(question, k=11)}
    with PageIndex.open(tmp_path / "refs", embedder=HashEmbedder()) as index:
        _brochure(index)
        hits = index.search(question, k=11)
    assert (hits[0].source, hits[0].page) == ("brochure.pdf", 7)  # printed "5": named, first
    assert {(h.source, h.page): h.score for h in hits} == own  # every page scored as in its own ranking
    assert hits[0].score not in (0.5, 1.0)  # not a fusion over the one named page
