"""OCR with real tesseract: scans, garbled scanner layers, pictures of tables, language choice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pymupdf
import pytest
from ingest_docs import png_bytes, text_image, write_scan

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.ocr import detect_language, installed_languages, ocr
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.sink import NullSink

pytestmark = pytest.mark.skipif(not shutil.which("tesseract"), reason="tesseract is not installed")

LINES = [
    "The harbour authority counted ninety container ships.",
    "Cargo volumes grew in every terminal this quarter.",
]


def _words(text: str) -> set[str]:
    return {w.strip(".,:;").lower() for w in text.split()}


def _ingest(folder: Path, catalog: Catalog, options: IngestOptions) -> list[object]:
    report = ingest_paths([folder], catalog=catalog, sink=NullSink(), options=options, progress=False)
    assert not report.failed, report.failed
    return [p for d in catalog.documents() for p in catalog.pages(d.doc_id)]


def test_scanned_page_gets_ocr_text_with_the_words_a_reader_sees(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions
) -> None:
    (tmp_path / "docs").mkdir()
    write_scan(tmp_path / "docs" / "scan.pdf", LINES)
    (page,) = _ingest(tmp_path / "docs", catalog, fast)
    assert page.ocr_used and page.native_text == ""  # type: ignore[attr-defined]
    assert {"harbour", "container", "ships", "cargo", "terminal"} <= _words(page.text)  # type: ignore[attr-defined]
    assert page.image_path.exists() and page.thumb_path.exists()  # type: ignore[attr-defined]


def test_a_garbled_scanner_text_layer_is_redone(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions
) -> None:
    (tmp_path / "docs").mkdir()
    garbage = "tl1e ,~ q§ :i Wr| ,,; ^^ 1l1 frrn ~~ ;:; ¦¦ rn| xq " * 4
    write_scan(tmp_path / "docs" / "old_scan.pdf", LINES, hidden_text=garbage)
    (page,) = _ingest(tmp_path / "docs", catalog, fast)
    assert page.ocr_used  # type: ignore[attr-defined]
    assert "frrn" not in page.text and "harbour" in _words(page.text)  # type: ignore[attr-defined]


def test_a_picture_of_a_table_under_a_long_title_is_ocred(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions
) -> None:
    (tmp_path / "docs").mkdir()
    table = text_image(
        ["Region      Revenue", "North       4,210", "Lagoon      9,870"], width=400, fontsize=20
    )
    doc = pymupdf.open()
    page = doc.new_page(width=720, height=540)
    page.insert_text((40, 50), "Quarterly revenue by region, in thousands of euros, FY2024", fontsize=18)
    page.insert_image(pymupdf.Rect(60, 90, 660, 500), stream=png_bytes(table))
    doc.save(tmp_path / "docs" / "slide.pdf")
    (result,) = _ingest(tmp_path / "docs", catalog, fast)
    assert result.ocr_used and result.image_coverage > 0.3  # type: ignore[attr-defined]
    assert {"lagoon", "9,870"} <= _words(result.ocr_text)  # type: ignore[attr-defined]
    assert result.text.startswith("Quarterly revenue")  # type: ignore[attr-defined]


def test_multi_frame_tiff_pages_are_read(tmp_path: Path, catalog: Catalog, fast: IngestOptions) -> None:
    (tmp_path / "docs").mkdir()
    first = text_image(["Invoice number 4471 for harbour dredging."]).convert("RGB")
    second = text_image(["Payment due within thirty days."]).convert("RGB")
    first.save(tmp_path / "docs" / "fax.tiff", save_all=True, append_images=[second], dpi=(200, 200))
    pages = _ingest(tmp_path / "docs", catalog, fast)
    assert [p.page for p in pages] == [1, 2]  # type: ignore[attr-defined]
    assert "invoice" in _words(pages[0].text) and "payment" in _words(pages[1].text)  # type: ignore[attr-defined]


@pytest.mark.skipif("fra" not in installed_languages(), reason="tesseract-ocr-fra is not installed")
def test_language_is_chosen_per_page_not_all_at_once() -> None:
    french = text_image(
        [
            "Le conseil municipal a voté le budget de la ville pour",
            "les écoles et les transports dans la région du nord.",
        ]
    )
    result = ocr(french, ["eng", "fra", "deu"])
    assert result.langs == "fra"
    assert "écoles" in result.text
    hinted = ocr(
        french,
        ["eng", "fra", "deu"],
        hint="Der Rat hat den Haushalt für die Schulen und die Stadt beschlossen",
    )
    assert hinted.langs == "deu"  # the page's own text layer decides, no English pass first


def test_detect_language_by_script_and_stopwords() -> None:
    allowed = ["eng", "deu", "fra", "spa", "chi_sim", "kor", "fas"]
    assert detect_language("The budget for the city and the schools was approved in May", allowed) == "eng"
    assert (
        detect_language("Die Stadt hat den Haushalt für die Schulen und das Jahr beschlossen", allowed)
        == "deu"
    )
    assert (
        detect_language("El consejo aprobó el presupuesto de la ciudad para las escuelas y los", allowed)
        == "spa"
    )
    assert detect_language("城市议会批准了学校的预算", allowed) == "chi_sim"
    assert detect_language("시의회는 학교 예산을 승인했습니다", allowed) == "kor"
    assert detect_language("شورای شهر بودجه مدارس را تصویب کرد", allowed) == "fas"
    assert detect_language("x y", allowed) is None


def test_an_upside_down_scan_is_turned_by_osd_before_reading() -> None:
    lines = [*LINES, "The new cranes worked without a single stop all year.", "Dredging finished in March."]
    upside_down = text_image(lines).rotate(180, expand=True)
    result = ocr(upside_down, ["eng", "deu"])
    assert {"harbour", "container", "cranes", "dredging"} <= _words(result.text)


def test_ocr_of_a_picture_adds_only_what_the_text_layer_lacks(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions
) -> None:
    (tmp_path / "docs").mkdir()
    sentence = "Beta team budget is 90000 euros."
    picture = text_image([sentence, "Lagoon terminal opened 2024"], width=420, fontsize=20)
    doc = pymupdf.open()
    page = doc.new_page(width=720, height=540)
    page.insert_text((40, 50), sentence, fontsize=18)
    page.insert_image(pymupdf.Rect(60, 90, 660, 500), stream=png_bytes(picture))
    doc.save(tmp_path / "docs" / "slide.pdf")
    (result,) = _ingest(tmp_path / "docs", catalog, fast)
    assert result.ocr_used and sentence in result.ocr_text  # type: ignore[attr-defined]
    assert result.text.count("90000") == 1  # type: ignore[attr-defined]
    assert "lagoon" in _words(result.text)  # type: ignore[attr-defined]


def test_new_lines_keeps_what_is_new() -> None:
    from pagerag.ingest.text import new_lines

    layer = "Total 2023 revenue: $4.2M\nQuarterly revenue of Fjordlys"
    ocr_text = "Total 2023 revenue: $4.2M\n¢\n—\n$1.4M $1.1M\nQuarterly revenue of Fjordlys Instruments"
    assert new_lines(ocr_text, layer) == "$1.4M $1.1M"
    assert (
        new_lines(ocr_text, "")
        == "Total 2023 revenue: $4.2M\n$1.4M $1.1M\nQuarterly revenue of Fjordlys Instruments"
    )
