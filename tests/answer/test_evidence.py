"""Evidence boxes: which words of a page an answer and its question point at."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.sink import NullSink
from pagerag.ingest.types import WordBox
from pagerag.pipelines.evidence import evidence_boxes

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "sample_docs" / "fjordlys_quarterly_report_q4_2023.pdf"
DEMO_QUESTION = "What was the total revenue in 2023 according to the chart in the quarterly report?"


def _page(*texts: str) -> list[WordBox]:
    return [WordBox(t, 10 * i, 0, 10 * i + 8, 5, ocr=i % 2 == 1) for i, t in enumerate(texts)]


def _marked(words: list[WordBox], question: str, answer: str = "") -> list[str]:
    return [w.text for w in evidence_boxes(words, question=question, answer=answer)]


def test_numbers_match_exactly() -> None:
    page = _page("$4.2M", "4.25", "4,2", "14.2", "(4.2)", "4.2.", "42", "4.2%")
    assert _marked(page, "Revenue?", "It was 4.2") == ["$4.2M", "(4.2)", "4.2.", "4.2%"]
    assert _marked(page, "Revenue?", "$4.25M") == ["4.25"]


def test_stop_words_and_citation_markers_mark_nothing() -> None:
    page = _page("The", "revenue", "of", "the", "year", "[1]", "1", "12", "2023")
    assert _marked(page, "What is the revenue of the year?") == ["revenue", "year"]
    assert _marked(page, "Which one?", "The answer [1] is in [12] and [1, 2].") == []
    assert _marked(page, "Which one?", "In 2023 [1].") == ["2023"]


def test_words_are_folded_and_plurals_meet() -> None:
    page = _page("REVENUES,", "Größe", "Quarterly:", "harbour-side", "cranes")
    assert _marked(page, "Total revenue by quarterly grosse?") == ["REVENUES,", "Größe", "Quarterly:"]
    assert _marked(page, "Which crane?") == ["cranes"]
    assert _marked(page, "", "") == [] and _marked([], DEMO_QUESTION) == []


def test_boxes_come_back_in_page_order_with_their_coordinates() -> None:
    page = _page("Total", "2023", "revenue:", "$4.2M")
    marked = evidence_boxes(page, question=DEMO_QUESTION, answer="Total 2023 revenue: $4.2M [1]")
    assert marked == page


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """The sample quarterly report ingested into a fresh index (real rendering and OCR)."""
    docs = tmp_path_factory.mktemp("sample_docs")
    shutil.copy(REPORT, docs / REPORT.name)
    with Catalog.open(tmp_path_factory.mktemp("index")) as catalog:
        options = IngestOptions(workers=0, ocr_langs=("eng",))
        report = ingest_paths([docs], catalog=catalog, sink=NullSink(), options=options, progress=False)
        assert not report.failed, report.failed
        yield catalog


@pytest.mark.skipif(not shutil.which("tesseract"), reason="tesseract is not installed")
def test_the_demo_answer_is_boxed_on_the_chart_page(sample_index: Catalog) -> None:
    (doc,) = sample_index.documents()
    words = sample_index.words(doc.doc_id, 2)
    marked = evidence_boxes(words, question=DEMO_QUESTION, answer="Total 2023 revenue: $4.2M [1]")

    numbers = [w for w in marked if "4.2" in w.text]
    assert numbers and all(w.ocr for w in numbers)  # the figure lives only in the chart image
    assert not any("1.4" in w.text or "0.8" in w.text for w in marked)
    page = sample_index.page(doc.doc_id, 2)
    from PIL import Image

    with Image.open(page.image_path) as image:  # type: ignore[arg-type]
        (box,) = numbers
        assert 0 <= box.x0 < box.x1 <= image.width and 0 <= box.y0 < box.y1 <= image.height
        dark = sum(image.convert("L").crop((box.x0, box.y0, box.x1, box.y1)).histogram()[:128])
        assert dark > 0.05 * (box.x1 - box.x0) * (box.y1 - box.y0)  # the box is on the printed figure
