"""Printed page numbers: found in headers and footers, filled by offset, kept in the catalog."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.labels import fill_offsets, pdf_page_labels, printed_numbers
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.sink import NullSink

W, H = 595.0, 842.0


def _report(path: Path) -> Path:
    """Cover, contents, then printed pages 1..6 (a full-page figure without a number at 4)."""
    import pymupdf

    doc = pymupdf.open()
    body = ["Cover of the annual report", "Contents"] + [f"Chapter text {i}" for i in range(1, 7)]
    for i, text in enumerate(body):
        page = doc.new_page(width=W, height=H)
        page.insert_text((72, 120), text, fontsize=14)
        page.insert_text((72, 40), "Annual report 2023", fontsize=9)  # header: a year, not a page
        number = i - 1
        if number >= 1 and number != 4:
            page.insert_text((W / 2, H - 30), str(number), fontsize=9)
        if i == 1:  # a numbered list at the foot of the contents page is not a page number
            for j, y in enumerate((H - 60, H - 45, H - 30)):
                page.insert_text((72, y), f"{j + 1}", fontsize=9)
    doc.save(path)
    return path


def _spreads(path: Path) -> Path:
    """A brochure of two-page spreads: sheet n prints 2n-2 on the left and 2n-1 on the right."""
    import pymupdf

    doc = pymupdf.open()
    for n in range(1, 6):
        page = doc.new_page(width=2 * W, height=H)
        page.insert_text((72, 120), f"Spread {n}", fontsize=14)
        if n > 1:
            page.insert_text((40, H - 30), str(2 * n - 2), fontsize=9)
            page.insert_text((2 * W - 60, H - 30), str(2 * n - 1), fontsize=9)
    doc.save(path)
    return path


def test_printed_numbers_are_lone_numbers_at_the_edges() -> None:
    footer = (300.0, 800.0, 310.0, 810.0, "17", 3, 0, 0)
    assert printed_numbers([footer], H, 30) == (17,)
    assert printed_numbers([(300.0, 400.0, 310.0, 410.0, "17", 3, 0, 0)], H, 30) == ()  # mid-page
    assert printed_numbers([(300.0, 800.0, 330.0, 810.0, "2023", 3, 0, 0)], H, 30) == ()  # a year
    line = [(x, 800.0, x + 9, 810.0, w, 3, 0, k) for k, (x, w) in enumerate([(100, "Page"), (140, "- 5 -")])]
    assert printed_numbers(line, H, 30) == (5,)
    table = [(100.0 + 20 * k, 800.0, 110.0 + 20 * k, 810.0, str(k), 4, 0, k) for k in range(1, 4)]
    assert printed_numbers(table, H, 30) == ()  # three numbers on one line: a table row


def test_fill_offsets_needs_agreement() -> None:
    assert fill_offsets([(), (1,), (), (3,), (), (5,)]) == ((), (1,), (2,), (3,), (4,), (5,))
    noisy = [(7,), (), (2,), (), (9,)]
    assert fill_offsets(noisy) == tuple(noisy)  # no offset has three votes


def test_pdf_labels_of_a_report_and_of_spreads(tmp_path: Path) -> None:
    import pymupdf

    with pymupdf.open(_report(tmp_path / "report.pdf")) as doc:
        assert pdf_page_labels(doc) == ((), (), (1,), (2,), (3,), (4,), (5,), (6,))
    with pymupdf.open(_spreads(tmp_path / "spreads.pdf")) as doc:
        assert pdf_page_labels(doc) == ((), (2, 3), (4, 5), (6, 7), (8, 9))


def test_pdf_page_labels_win_over_positions(tmp_path: Path) -> None:
    import pymupdf

    path = tmp_path / "labelled.pdf"
    doc = pymupdf.open()
    for _ in range(5):
        doc.new_page(width=W, height=H).insert_text((72, 120), "text", fontsize=12)
    doc.set_page_labels([{"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1},
                         {"startpage": 2, "prefix": "", "style": "D", "firstpagenum": 1}])  # fmt: skip
    doc.save(path)
    with pymupdf.open(path) as pdf:
        assert pdf_page_labels(pdf) == ((), (), (1,), (2,), (3,))  # i, ii are not numbers


def test_labels_reach_the_catalog_and_old_catalogs_are_migrated(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _report(docs / "report.pdf")
    index_dir = tmp_path / "index"
    with Catalog.open(index_dir) as catalog:
        options = IngestOptions(workers=0, ocr=False, dpi=36)
        ingest_paths([docs], catalog=catalog, sink=NullSink(), options=options, progress=False)
        (doc,) = catalog.documents()
        assert [p.labels for p in catalog.pages(doc.doc_id)][2:4] == [(1,), (2,)]
    db = sqlite3.connect(index_dir / "catalog.sqlite")  # a catalog from before labels existed
    db.executescript("ALTER TABLE pages DROP COLUMN labels;")
    db.close()
    with Catalog.open(index_dir) as catalog:
        assert all(p.labels == () for p in catalog.pages(doc.doc_id))
