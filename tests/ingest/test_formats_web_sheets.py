"""HTML, EPUB and spreadsheets become pages as PDFs do: image, text, title, word boxes; bad files fail alone.

One folder with one file of each format and one broken file of each is ingested once per module
(LibreOffice runs once per sheet, about a second each); the checks that need no conversion call
the backends directly.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymupdf
import pytest
import xlsxwriter  # a dependency of python-pptx, so always there
from PIL import Image

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.errors import ConverterMissing, EncryptedDocument, UnreadableDocument, UnsupportedFormat
from pagerag.ingest.formats.epub import check_epub, epub_to_pdf
from pagerag.ingest.formats.html import html_to_pdf, resources
from pagerag.ingest.formats.office import find_soffice
from pagerag.ingest.formats.sheets import check_sheet, convert_sheet_to_pdf, csv_import_filter
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.scan import kind_of, sniff
from pagerag.ingest.sink import NullSink
from pagerag.ingest.types import IngestReport, Page, WordBox

needs_soffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed")

BLUE, RED = (0, 0, 255), (255, 0, 0)


def _png(color: tuple[int, int, int], size: tuple[int, int] = (120, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _write_html(docs: Path, secret: Path) -> Path:
    """A page with a chart in its folder and five ways to reach a red image outside it."""
    (docs / "img").mkdir(parents=True)
    (docs / "img" / "chart.png").write_bytes(_png(BLUE))
    (docs / "img" / "escape.png").symlink_to(secret)
    (docs / "style.css").write_text(f"@import url(../{secret.name.replace('.png', '.css')});", "utf-8")
    page = docs / "report.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Harbour Annual Report</title>"
        "<link rel='stylesheet' href='style.css'></head><body>"
        "<h1>Harbour tonnage 4.2 million</h1><p>Cargo volumes grew in every terminal.</p>"
        f"<img src='img/chart.png'><img src='../{secret.name}'><img src='file://{secret}'>"
        f"<img src='{secret}'><img src='img/escape.png'><img src='http://example.com/x.png'>"
        "</body></html>",
        encoding="utf-8",
    )
    return page


def _write_epub(path: Path) -> Path:
    """Two chapters (the first with a picture), a title, a reference out of the package."""
    container = (
        '<?xml version="1.0"?><container version="1.0" '
        'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
        '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
        'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<dc:identifier id="id">tides</dc:identifier><dc:title>Tide Tables</dc:title>'
        "<dc:language>en</dc:language></metadata><manifest>"
        '<item id="c1" href="ch1.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="c2" href="ch2.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="pic" href="pic.png" media-type="image/png"/></manifest>'
        '<spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>'
    )
    chapter = (
        '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>{0}</title></head>'
        "<body><h1>{0}</h1><p>{1}</p>{2}</body></html>"
    )
    with zipfile.ZipFile(path, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")  # first, stored
        book.writestr("META-INF/container.xml", container)
        book.writestr("OEBPS/content.opf", opf)
        pictures = '<img src="pic.png"/><img src="../../../../../etc/hostname"/>'
        first = chapter.format("Chapter One", "Spring tides rise at Keelhaven.", pictures)
        book.writestr("OEBPS/ch1.xhtml", first)
        book.writestr("OEBPS/ch2.xhtml", chapter.format("Chapter Two", "Neap tides fall at Harbourton.", ""))
        book.writestr("OEBPS/pic.png", _png(BLUE))
    return path


def _write_xlsx(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    tides = book.add_worksheet("Tides")
    tides.write_row(0, 0, ["Port", "High water", "Low water"])
    tides.write_row(1, 0, ["Harbourton", 4.2, 0.7])
    book.add_worksheet("Notes").write(0, 0, "SecondSheetMarker")
    book.close()
    return path


@dataclass(frozen=True)
class Ingested:
    report: IngestReport
    catalog: Catalog
    docs: Path
    secret: Path

    def pages(self, source: str) -> list[Page]:
        (doc,) = [d for d in self.catalog.documents() if d.source == source]
        return self.catalog.pages(doc.doc_id)

    def words(self, source: str, page: int) -> list[WordBox]:
        (doc,) = [d for d in self.catalog.documents() if d.source == source]
        return self.catalog.words(doc.doc_id, page)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    root = tmp_path_factory.mktemp("web-sheets")
    docs = root / "docs"
    secret = root / "secret.png"
    secret.write_bytes(_png(RED, (300, 300)))
    (root / "secret.css").write_text("h1 { color: red; }", "utf-8")
    _write_html(docs, secret)
    _write_epub(docs / "tides.epub")
    _write_xlsx(docs / "tides.xlsx")
    (docs / "ports.csv").write_text("Port;Depth\nKeelhaven;12,5\nÅrhus;9\n", encoding="utf-8")
    bad = docs / "bad"
    bad.mkdir()
    (bad / "corrupt.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    (bad / "empty.csv").write_bytes(b"")
    (bad / "blank.csv").write_text("\n ;; \n\n", encoding="utf-8")
    book = (docs / "tides.epub").read_bytes()
    (bad / "broken.epub").write_bytes(book[: len(book) // 2])
    (bad / "blank.html").write_text("  \n", encoding="utf-8")
    options = IngestOptions(workers=0, ocr=False, dpi=144)
    with Catalog.open(root / "index") as catalog:
        report = ingest_paths([docs], catalog=catalog, sink=NullSink(), options=options, progress=False)
        yield Ingested(report, catalog, docs, secret)


def _colour_share(image_path: Path | None, color: tuple[int, int, int]) -> float:
    assert image_path is not None
    with Image.open(image_path) as image:
        rgb = image.convert("RGB")
        hits = sum(n for n, c in rgb.getcolors(rgb.width * rgb.height) or [] if _near(c, color))
        return hits / (rgb.width * rgb.height)


def _near(c: tuple[int, int, int], color: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(c, color, strict=True))


def _word(words: list[WordBox], text: str) -> WordBox:
    found = [w for w in words if w.text.strip(".,:;") == text]
    assert found, f"no box for {text!r} in {[w.text for w in words]}"
    return found[0]


def _ink(image_path: Path | None, box: WordBox) -> float:
    assert image_path is not None
    with Image.open(image_path) as image:
        crop = image.convert("L").crop((box.x0, box.y0, box.x1, box.y1))
    return sum(crop.histogram()[:128]) / max(crop.width * crop.height, 1)


# HTML ---------------------------------------------------------------------------------------------


def test_html_page_has_title_text_picture_and_word_boxes(ingested: Ingested) -> None:
    (page,) = ingested.pages("report.html")
    assert page.title == "Harbour Annual Report"
    assert "Harbour tonnage 4.2 million" in page.text and "every terminal" in page.text
    assert page.image_coverage > 0
    assert _colour_share(page.image_path, BLUE) > 0.005  # the chart from its own folder
    box = _word(ingested.words("report.html", 1), "tonnage")
    assert not box.ocr and _ink(page.image_path, box) > 0.05


def test_html_reads_nothing_outside_its_folder(ingested: Ingested, tmp_path: Path) -> None:
    (page,) = ingested.pages("report.html")
    assert _colour_share(page.image_path, RED) == 0.0
    html = (ingested.docs / "report.html").read_text("utf-8")
    assert sorted(name for name, _ in resources(ingested.docs, html)) == ["img/chart.png", "style.css"]
    pdf = html_to_pdf(ingested.docs / "report.html", tmp_path)
    with pymupdf.open(pdf) as doc:
        assert len(doc[0].get_images()) == 1


def test_html_resources_skip_urls_and_big_or_odd_files(tmp_path: Path) -> None:
    (tmp_path / "a b.png").write_bytes(_png(BLUE))
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "f.css").write_text("@font-face { src: url('../a%20b.png') }", "utf-8")
    os.mkfifo(tmp_path / "pipe.png")  # reading it would block forever
    page = (
        "<img src='a%20b.png'><img src='pipe.png'><a href='notes.pdf'>x</a>"
        "<img src='data:image/png;base64,AA'>"
        "<img src='C:\\Windows\\x.png'><img src='//host/x.png'><link href='fonts/f.css'>"
    )
    assert sorted(name for name, _ in resources(tmp_path, page)) == ["a b.png", "fonts/f.css"]


# EPUB ---------------------------------------------------------------------------------------------


def test_epub_chapters_become_pages(ingested: Ingested) -> None:
    pages = ingested.pages("tides.epub")
    assert len(pages) == 2
    assert {p.title for p in pages} == {"Tide Tables"}
    assert "Spring tides rise at Keelhaven" in pages[0].text
    assert "Neap tides fall at Harbourton" in pages[1].text
    assert _colour_share(pages[0].image_path, BLUE) > 0.005
    box = _word(ingested.words("tides.epub", 2), "Harbourton")
    assert _ink(pages[1].image_path, box) > 0.05


def test_epub_checks(tmp_path: Path) -> None:
    not_epub = tmp_path / "plain.epub"
    with zipfile.ZipFile(not_epub, "w") as package:
        package.writestr("mimetype", "application/epub+zip")
    with pytest.raises(UnreadableDocument, match=r"plain\.epub: not an EPUB \(no META-INF/container\.xml"):
        check_epub(not_epub)
    drm = _write_epub(tmp_path / "drm.epub")
    with zipfile.ZipFile(drm, "a") as package:
        package.writestr(
            "META-INF/encryption.xml",
            '<encryption><EncryptedData><EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
            "</EncryptedData></encryption>",
        )
    with pytest.raises(EncryptedDocument, match="DRM-protected EPUB"):
        epub_to_pdf(drm, tmp_path)
    fonts_only = _write_epub(tmp_path / "fonts.epub")
    with zipfile.ZipFile(fonts_only, "a") as package:
        package.writestr(
            "META-INF/encryption.xml", '<EncryptionMethod Algorithm="http://www.idpf.org/2008/embedding"/>'
        )
    check_epub(fonts_only)


# Spreadsheets -------------------------------------------------------------------------------------


@needs_soffice
def test_workbook_prints_each_sheet_on_its_pages(ingested: Ingested) -> None:
    pages = ingested.pages("tides.xlsx")
    assert len(pages) == 2
    assert "Harbourton" in pages[0].text and "4.2" in pages[0].text
    assert "SecondSheetMarker" in pages[1].text
    box = _word(ingested.words("tides.xlsx", 1), "Harbourton")
    assert _ink(pages[0].image_path, box) > 0.05


@needs_soffice
def test_csv_with_its_separator_and_charset(ingested: Ingested) -> None:
    (page,) = ingested.pages("ports.csv")
    words = [w.text for w in ingested.words("ports.csv", 1)]
    assert {"Keelhaven", "Århus", "12,5", "Depth"} <= set(words), words
    assert "ports" in page.text  # the sheet is named after the file, printed in the header


def test_csv_import_filter(tmp_path: Path) -> None:
    cases = {
        "comma.csv": b"a,b\n1,2\n",
        "semi.csv": b"a;b\n1;2,5\n",
        "tabs.csv": b"a\tb\n1\t2\n",
        "latin.csv": "Stadt;Größe\nKöln;3\n".encode("latin-1"),
        "one.csv": b"alone\n",
    }
    filters = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        filters[name] = csv_import_filter(tmp_path / name)
    assert filters == {
        "comma.csv": "CSV:44,34,76,1",
        "semi.csv": "CSV:59,34,76,1",
        "tabs.csv": "CSV:9,34,76,1",
        "latin.csv": "CSV:59,34,1,1",
        "one.csv": "CSV:44,34,76,1",
    }


def test_sheet_checks(tmp_path: Path) -> None:
    encrypted = tmp_path / "locked.xlsx"
    encrypted.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64)
    with pytest.raises(EncryptedDocument, match="password-protected Excel file"):
        check_sheet(encrypted)
    ods = tmp_path / "hollow.ods"
    with zipfile.ZipFile(ods, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    with pytest.raises(UnreadableDocument, match=r"corrupt \.ods file \(no content\.xml"):
        check_sheet(ods)
    binary = tmp_path / "noise.xls"
    binary.write_bytes(b"\x01\x02\x00\x03" * 16)
    with pytest.raises(UnsupportedFormat, match=r"not an Excel \.xls file"):
        check_sheet(binary)
    web_export = tmp_path / "export.xls"
    web_export.write_text("<html><table><tr><td>1</td></tr></table></html>", "utf-8")
    check_sheet(web_export)


def test_missing_calc_module_says_what_to_install(tmp_path: Path) -> None:
    program = tmp_path / "program"
    program.mkdir()
    (program / "libswlo.so").write_bytes(b"")  # Writer is there, Calc is not
    (program / "soffice").write_text("#!/bin/sh\nexit 1\n", "utf-8")
    sheet = _write_xlsx(tmp_path / "t.xlsx")
    with pytest.raises(ConverterMissing, match="apt-get install libreoffice-calc"):
        convert_sheet_to_pdf(sheet, tmp_path, soffice=program / "soffice")


# Scan and bad files -------------------------------------------------------------------------------


def test_suffixes_and_sniffing(tmp_path: Path) -> None:
    kinds = {s: kind_of(s) for s in (".HTML", ".htm", ".epub", ".xlsx", ".XLS", ".ods", ".csv")}
    assert kinds == {
        ".HTML": "html",
        ".htm": "html",
        ".epub": "epub",
        ".xlsx": "sheet",
        ".XLS": "sheet",
        ".ods": "sheet",
        ".csv": "sheet",
    }
    renamed = tmp_path / "photo.xlsx"
    renamed.write_bytes(_png(BLUE))
    with pytest.raises(UnsupportedFormat, match=r"content is a PNG image, not what its suffix \.xlsx says"):
        sniff(renamed, "sheet")
    zipped_html = tmp_path / "page.html"
    zipped_html.write_bytes(b"PK\x03\x04rest")
    with pytest.raises(UnsupportedFormat, match=r"content is a ZIP archive"):
        sniff(zipped_html, "html")


def test_bad_files_fail_alone_with_one_line_reasons(ingested: Ingested) -> None:
    reasons = {Path(p.path).name: p.reason for p in ingested.report.failed}
    assert set(reasons) >= {"corrupt.xlsx", "empty.csv", "blank.csv", "broken.epub", "blank.html"}
    assert "corrupt .xlsx file (broken ZIP package" in reasons["corrupt.xlsx"]
    assert reasons["empty.csv"] == "empty file (0 bytes)"
    assert reasons["blank.csv"] == "no values in the CSV file"
    assert reasons["broken.epub"].startswith("corrupt EPUB")
    assert reasons["blank.html"] == "empty file (no HTML)"
    assert all("\n" not in r for r in reasons.values())
    sources = {d.source for d in ingested.catalog.documents()}
    assert {"report.html", "tides.epub"} <= sources
    if find_soffice() is not None:
        assert set(reasons) == {"corrupt.xlsx", "empty.csv", "blank.csv", "broken.epub", "blank.html"}
        assert {"tides.xlsx", "ports.csv"} <= sources
