"""Word boxes kept at ingest: on the word in the stored page image, for text layers, scans and pictures."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pymupdf
import pytest
from ingest_docs import LOREM, png_bytes, text_image, write_pdf
from PIL import Image, ImageDraw, ImageFont

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.ocr import ocr
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.sink import NullSink
from pagerag.ingest.types import WordBox
from pagerag.ingest.words import decode, encode, from_tsv, unrotated

needs_tesseract = pytest.mark.skipif(not shutil.which("tesseract"), reason="tesseract is not installed")
DPI = 144  # page images at 2 pixels per point


def _ingest(folder: Path, catalog: Catalog, options: IngestOptions) -> str:
    """Ingest ``folder`` (one document) and return its doc id."""
    report = ingest_paths([folder], catalog=catalog, sink=NullSink(), options=options, progress=False)
    assert not report.failed, report.failed
    (doc,) = catalog.documents()
    return doc.doc_id


def _box(words: list[WordBox], text: str) -> WordBox:
    found = [w for w in words if w.text.strip(".,:;") == text]
    assert found, f"no box for {text!r} in {[w.text for w in words]}"
    return found[0]


def _overlap(box: WordBox, target: tuple[float, float, float, float]) -> float:
    """Intersection over union of ``box`` and ``target``."""
    ix = max(0.0, min(box.x1, target[2]) - max(box.x0, target[0]))
    iy = max(0.0, min(box.y1, target[3]) - max(box.y0, target[1]))
    inter = ix * iy
    union = (box.x1 - box.x0) * (box.y1 - box.y0) + (target[2] - target[0]) * (target[3] - target[1]) - inter
    return inter / union


def _ink(image_path: Path, box: WordBox) -> float:
    """Share of dark pixels inside ``box`` of the stored page image (text is there: > 0)."""
    with Image.open(image_path) as image:
        crop = image.convert("L").crop((box.x0, box.y0, box.x1, box.y1))
    histogram = crop.histogram()
    return sum(histogram[:128]) / max(crop.width * crop.height, 1)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _scan_pdf(
    path: Path, words: list[tuple[str, tuple[int, int]]], *, size: tuple[int, int] = (1200, 900)
) -> dict[str, tuple[int, int, int, int]]:
    """An image-only PDF (Pillow, 200 dpi) with ``words`` drawn at pixel positions; returns their boxes."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    drawn = {}
    for text, xy in words:
        draw.text(xy, text, fill=0, font=_font(48))
        bbox = draw.textbbox(xy, text, font=_font(48))
        drawn[text] = (int(bbox[0]), int(bbox[1]), int(bbox[2]), int(bbox[3]))
    image.save(path, format="PDF", resolution=200.0)
    return drawn


# Text layer ---------------------------------------------------------------------------------------


def test_text_layer_words_land_where_they_are_drawn(
    tmp_path: Path, catalog: Catalog, index_dir: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((120, 300), "Harbour tonnage 4.2 million", fontsize=18)
    page.insert_textbox(pymupdf.Rect(50, 400, 545, 800), LOREM.format(n=7), fontsize=11)
    truth = page.search_for("tonnage")[0]
    doc.save(docs / "native.pdf")
    doc.close()

    doc_id = _ingest(docs, catalog, IngestOptions(workers=0, ocr_langs=("eng",), dpi=DPI))
    words = catalog.words(doc_id, 1)
    page_row = catalog.page(doc_id, 1)

    assert not page_row.ocr_used and words and not any(w.ocr for w in words)
    box = _box(words, "tonnage")
    scale = DPI / 72
    expected = (truth.x0 * scale, truth.y0 * scale, truth.x1 * scale, truth.y1 * scale)
    assert _overlap(box, expected) > 0.9
    assert _ink(page_row.image_path, box) > 0.05  # type: ignore[arg-type]
    assert [w.text for w in words][:4] == ["Harbour", "tonnage", "4.2", "million"]
    with Image.open(page_row.image_path) as image:  # type: ignore[arg-type]
        assert all(0 <= w.x0 < w.x1 <= image.width and 0 <= w.y0 < w.y1 <= image.height for w in words)


def test_a_turned_page_has_its_boxes_on_the_turned_image(tmp_path: Path, catalog: Catalog) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=300)
    page.insert_text((60, 100), "Quayside cranes lifted containers", fontsize=16)
    page.set_rotation(90)
    truth = page.search_for("cranes")[0] * page.rotation_matrix
    doc.save(docs / "turned.pdf")
    doc.close()

    doc_id = _ingest(docs, catalog, IngestOptions(workers=0, ocr=False, dpi=DPI))
    page_row = catalog.page(doc_id, 1)
    box = _box(catalog.words(doc_id, 1), "cranes")

    expected = tuple(v * DPI / 72 for v in (truth.x0, truth.y0, truth.x1, truth.y1))
    assert _overlap(box, expected) > 0.9  # type: ignore[arg-type]
    assert box.y1 - box.y0 > box.x1 - box.x0  # the word runs down the turned page
    assert _ink(page_row.image_path, box) > 0.05  # type: ignore[arg-type]


def test_text_files_get_the_boxes_of_the_words_drawn(tmp_path: Path, catalog: Catalog) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("Harbour notes\n\nThe ferry leaves at noon.\n", encoding="utf-8")
    doc_id = _ingest(docs, catalog, IngestOptions(workers=0, ocr=False, dpi=DPI))
    words = catalog.words(doc_id, 1)
    assert [w.text for w in words][:2] == ["Harbour", "notes"]
    assert _ink(catalog.page(doc_id, 1).image_path, _box(words, "ferry")) > 0.05  # type: ignore[arg-type]


def test_word_boxes_can_be_turned_off(tmp_path: Path, catalog: Catalog, pdf_factory: object) -> None:
    pdf_factory("report.pdf")  # type: ignore[operator]
    doc_id = _ingest(tmp_path / "docs", catalog, IngestOptions(workers=0, ocr=False, word_boxes=False))
    assert catalog.words(doc_id, 1) == [] and catalog.page(doc_id, 1).text


def test_words_of_a_missing_page_raise(tmp_path: Path, catalog: Catalog, pdf_factory: object) -> None:
    from pagerag.ingest.errors import PageragError

    pdf_factory("report.pdf", pages=1)  # type: ignore[operator]
    doc_id = _ingest(tmp_path / "docs", catalog, IngestOptions(workers=0, ocr=False))
    with pytest.raises(PageragError, match="no page 5"):
        catalog.words(doc_id, 5)
    with pytest.raises(PageragError):
        catalog.words("0" * 64, 1)


# OCR ----------------------------------------------------------------------------------------------


@needs_tesseract
def test_a_scanned_page_gets_ocr_boxes_on_its_words(tmp_path: Path, catalog: Catalog) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    drawn = _scan_pdf(
        docs / "scan.pdf",
        [("HARBOUR", (150, 200)), ("tonnage", (600, 200)), ("Quayside", (150, 500)), ("4.2", (700, 500))],
    )
    doc_id = _ingest(docs, catalog, IngestOptions(workers=2, ocr_langs=("eng",), dpi=DPI))
    page_row = catalog.page(doc_id, 1)
    words = catalog.words(doc_id, 1)

    assert page_row.ocr_used and page_row.native_text == ""
    assert words and all(w.ocr for w in words)
    scale = DPI / 200  # the scan is 200 dpi, the page image 144
    for text, (x0, y0, x1, y1) in drawn.items():
        box = _box(words, text)
        assert _overlap(box, (x0 * scale, y0 * scale, x1 * scale, y1 * scale)) > 0.6, (text, box)
        assert _ink(page_row.image_path, box) > 0.05  # type: ignore[arg-type]


@needs_tesseract
def test_a_picture_on_a_text_page_gets_ocr_boxes_beside_the_text_layer(
    tmp_path: Path, catalog: Catalog
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    chart = Image.new("L", (1000, 600), 255)
    draw = ImageDraw.Draw(chart)
    draw.text((100, 150), "Revenue", fill=0, font=_font(64))
    draw.text((600, 150), "4.2", fill=0, font=_font(64))
    bbox = draw.textbbox((600, 150), "4.2", font=_font(64))
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_textbox(pymupdf.Rect(50, 50, 545, 200), LOREM.format(n=3), fontsize=11)
    place = pymupdf.Rect(50, 250, 550, 550)  # 1000 x 600 pixels in 500 x 300 points: 2 pixels a point
    page.insert_image(place, stream=png_bytes(chart))
    doc.save(docs / "chart.pdf")
    doc.close()

    doc_id = _ingest(docs, catalog, IngestOptions(workers=0, ocr_langs=("eng",), dpi=DPI))
    words = catalog.words(doc_id, 1)
    page_row = catalog.page(doc_id, 1)

    assert page_row.ocr_used
    assert _box(words, "harbour").ocr is False
    number = _box(words, "4.2")
    assert number.ocr
    # chart pixels are half points, page image pixels too (144 dpi): only the picture's place shifts them
    expected = (
        place.x0 * 2 + bbox[0],
        place.y0 * 2 + bbox[1],
        place.x0 * 2 + bbox[2],
        place.y0 * 2 + bbox[3],
    )
    assert _overlap(number, expected) > 0.5, (number, expected)
    assert _ink(page_row.image_path, number) > 0.05  # type: ignore[arg-type]


@needs_tesseract
def test_a_picture_on_a_turned_page_is_read_where_it_is_drawn(tmp_path: Path, catalog: Catalog) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    chart = Image.new("L", (860, 580), 255)
    ImageDraw.Draw(chart).text((100, 250), "Lighthouse 4.2", fill=0, font=_font(72))
    doc = pymupdf.open()
    page = doc.new_page(width=842, height=595)
    page.insert_textbox(pymupdf.Rect(50, 50, 380, 290), LOREM.format(n=5), fontsize=11)
    place = pymupdf.Rect(400, 300, 830, 590)  # turned, it lies where the unturned box is not
    page.insert_image(place, stream=png_bytes(chart))
    page.set_rotation(90)
    drawn = place * page.rotation_matrix
    doc.save(docs / "turned_chart.pdf")
    doc.close()

    doc_id = _ingest(docs, catalog, IngestOptions(workers=0, ocr_langs=("eng",), dpi=DPI))
    page_row = catalog.page(doc_id, 1)
    number = _box(catalog.words(doc_id, 1), "4.2")

    assert page_row.ocr_used and number.ocr
    assert drawn.x0 * 2 <= number.x0 < number.x1 <= drawn.x1 * 2
    assert drawn.y0 * 2 <= number.y0 < number.y1 <= drawn.y1 * 2
    assert _ink(page_row.image_path, number) > 0.05  # type: ignore[arg-type]


@needs_tesseract
def test_an_image_file_gets_ocr_boxes_on_the_stored_image(tmp_path: Path, catalog: Catalog) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    image = Image.new("RGB", (1000, 500), "white")
    ImageDraw.Draw(image).text((200, 200), "Lighthouse", fill="black", font=_font(56))
    bbox = ImageDraw.Draw(image).textbbox((200, 200), "Lighthouse", font=_font(56))
    image.save(docs / "photo.png", dpi=(200, 200))

    doc_id = _ingest(docs, catalog, IngestOptions(workers=0, ocr_langs=("eng",), dpi=DPI))
    box = _box(catalog.words(doc_id, 1), "Lighthouse")
    scale = DPI / 200
    assert box.ocr and _overlap(box, tuple(v * scale for v in bbox)) > 0.6  # type: ignore[arg-type]
    assert _ink(catalog.page(doc_id, 1).image_path, box) > 0.05  # type: ignore[arg-type]


@needs_tesseract
@pytest.mark.parametrize("degrees", [90, 180])
def test_boxes_read_on_a_turned_scan_are_put_back_on_it(degrees: int) -> None:
    lines = [
        "The harbour authority counted ninety container ships.",
        "Cargo volumes grew in every terminal this quarter.",
        "The new cranes worked without a single stop all year.",
        "Dredging finished in March.",
    ]
    upright = text_image(lines)
    turned = upright.rotate(degrees, expand=True)  # counter-clockwise: OSD says turn it back clockwise
    straight = {b[0]: b for b in ocr(upright, ["eng"], words=True).words}
    result = ocr(turned, ["eng"], words=True)

    assert {"harbour", "cranes", "dredging"} <= {b[0].lower() for b in result.words}
    w, h = upright.size
    for text, x0, y0, x1, y1 in result.words:
        if text not in ("harbour", "cranes", "Dredging"):
            continue
        _, u0, v0, u1, v1 = straight[text]
        # where the upright box lands once the image is turned counter-clockwise
        expected = (v0, w - u1, v1, w - u0) if degrees == 90 else (w - u1, h - v1, w - u0, h - v0)
        assert all(abs(a - b) <= 4 for a, b in zip((x0, y0, x1, y1), expected, strict=True)), (text, expected)


# Storage ------------------------------------------------------------------------------------------


def test_encoding_round_trips_and_survives_odd_input() -> None:
    words = [
        WordBox("Größe", 0, 1, 20, 12),
        WordBox("$4.2M", 30, 1, 60, 12, ocr=True),
        WordBox("a b", 1, 2, 3, 4),
    ]
    assert decode(encode(words)) == words
    assert encode([]) == b"" and decode(b"") == [] and decode(None) == []
    assert decode(b"not an encoding") == [] and decode(b"w1garbage") == []
    assert len(encode(words * 200)) < len(repr(words * 200)) // 5


def test_tsv_and_rotation_helpers() -> None:
    tsv = "level\tp\tb\tpar\tl\tw\tleft\ttop\twidth\theight\tconf\ttext\n"
    tsv += "4\t1\t1\t1\t1\t0\t10\t20\t300\t30\t-1\t\n5\t1\t1\t1\t1\t1\t10\t20\t50\t30\t95\tQuay\n"
    tsv += "5\t1\t1\t1\t1\t2\t70\t20\t40\t30\t90\t \n"
    assert from_tsv(tsv) == [("Quay", 10, 20, 60, 50)]
    box = [("w", 10, 20, 30, 25)]
    for degrees in (0, 90, 180, 270):  # a box turned with its image and put back is where it was
        there = _turned_box(box[0], degrees, (100, 60))
        assert unrotated([there], degrees, (100, 60)) == box


def _turned_box(
    box: tuple[str, float, float, float, float], degrees: int, size: tuple[int, int]
) -> tuple[str, float, float, float, float]:
    """Where ``box`` lands when its image of ``size`` is turned ``degrees`` clockwise."""
    text, x0, y0, x1, y1 = box
    w, h = size
    if degrees == 90:
        return (text, h - y1, x0, h - y0, x1)
    if degrees == 180:
        return (text, w - x1, h - y1, w - x0, h - y0)
    if degrees == 270:
        return (text, y0, w - x1, y1, w - x0)
    return box


def test_an_old_catalog_gains_the_column_and_reads_no_words(tmp_path: Path) -> None:
    index_dir = tmp_path / "old"
    index_dir.mkdir()
    db = sqlite3.connect(index_dir / "catalog.sqlite")
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE documents (doc_id TEXT PRIMARY KEY, path BLOB NOT NULL, source TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT '', pages INTEGER NOT NULL DEFAULT 0,
            size INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, replaces TEXT NOT NULL DEFAULT '[]',
            indexed_at TEXT NOT NULL DEFAULT '');
        CREATE TABLE pages (doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
            page INTEGER NOT NULL, text TEXT NOT NULL, native_text TEXT NOT NULL, ocr_text TEXT NOT NULL,
            notes TEXT NOT NULL, image TEXT, width REAL NOT NULL, height REAL NOT NULL,
            ocr_used INTEGER NOT NULL, image_coverage REAL NOT NULL, lang TEXT NOT NULL,
            PRIMARY KEY (doc_id, page));
        INSERT INTO documents
            VALUES ('d1', x'2f612e706466', 'a.pdf', 'A', 'pdf', 1, 10, 'complete', '[]', '');
        INSERT INTO pages VALUES ('d1', 1, 'old text', 'old text', '', '', NULL, 595, 842, 0, 0, 'eng');
        """
    )
    db.commit()
    db.close()

    with Catalog.open(index_dir) as catalog:
        assert catalog.page("d1", 1).text == "old text"
        assert catalog.words("d1", 1) == []  # ingested before boxes were kept
        columns = {row[1] for row in catalog._db.execute("PRAGMA table_info(pages)")}
        assert {"labels", "words"} <= columns
    # a newer run writes words into the migrated table
    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(docs / "new.pdf", ["Dredging schedule for the inner harbour basin."])
    with Catalog.open(index_dir) as catalog:
        report = ingest_paths(
            [docs],
            catalog=catalog,
            sink=NullSink(),
            options=IngestOptions(workers=0, ocr=False),
            progress=False,
        )
        assert not report.failed
        new = next(d for d in catalog.documents() if d.source == "new.pdf")
        assert _box(catalog.words(new.doc_id, 1), "Dredging")


def test_words_travel_to_the_sink_with_their_page(
    tmp_path: Path, catalog: Catalog, pdf_factory: object
) -> None:
    seen = []

    class Recording(NullSink):
        def write(self, doc: object, pages: object) -> None:
            seen.extend(pages)  # type: ignore[call-overload]

    pdf_factory("report.pdf", pages=1)  # type: ignore[operator]
    report = ingest_paths(
        [tmp_path / "docs"],
        catalog=catalog,
        sink=Recording(),
        options=IngestOptions(workers=0, ocr=False),
        progress=False,
    )
    assert not report.failed
    (page,) = seen
    assert page.words == tuple(catalog.words(page.doc_id, 1))
    assert catalog.pages(page.doc_id)[0].words == ()  # the page table's reader leaves them out


def test_scan_pdf_helper_is_image_only(tmp_path: Path) -> None:
    _scan_pdf(tmp_path / "s.pdf", [("Quay", (10, 10))])
    with pymupdf.open(tmp_path / "s.pdf") as doc:
        assert doc[0].get_text().strip() == "" and doc[0].get_images()
