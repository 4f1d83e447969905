"""PDF, image and text backends: opening, damage, passwords, size clamps, frames."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from ingest_docs import ZERO_PAGE_PDF, write_encrypted, write_pdf
from PIL import Image

from pagerag.ingest.errors import EncryptedDocument, UnreadableDocument
from pagerag.ingest.formats import images, pdf, text


def test_corrupt_truncated_and_zero_page_pdfs_raise_clear_errors(tmp_path: Path) -> None:
    good = write_pdf(tmp_path / "good.pdf", ["one " * 200, "two " * 200, "three " * 200])
    data = good.read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(data[: len(data) // 2])
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    (tmp_path / "zero.pdf").write_bytes(ZERO_PAGE_PDF)
    with pytest.raises(UnreadableDocument, match="truncated PDF"):
        pdf.open_pdf(tmp_path / "truncated.pdf")
    with pytest.raises(UnreadableDocument, match="corrupt PDF"):
        pdf.open_pdf(tmp_path / "corrupt.pdf")
    with pytest.raises(UnreadableDocument, match="PDF has no pages"):
        pdf.open_pdf(tmp_path / "zero.pdf")
    assert pdf.open_pdf(good).page_count == 3


def test_encrypted_pdf_needs_the_right_password(tmp_path: Path) -> None:
    path = write_encrypted(tmp_path / "secret.pdf", "s3cret")
    with pytest.raises(EncryptedDocument, match="password is needed"):
        pdf.open_pdf(path)
    with pytest.raises(EncryptedDocument, match="password given is wrong"):
        pdf.open_pdf(path, "nope")
    doc = pdf.open_pdf(path, "s3cret")
    assert "confidential" in doc[0].get_text()


def test_a_200_inch_page_renders_clamped(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "poster.pdf", ["huge poster"], size=(14400, 14400))
    doc = pdf.open_pdf(path)
    image = pdf.render(doc[0], 144)
    assert max(image.size) <= pdf.MAX_SIDE
    assert image.size[0] * image.size[1] <= pdf.MAX_PIXELS
    assert pdf.zoom_for(595, 842, 144) == 2.0  # an A4 page is not touched


def test_image_coverage_counts_pictures_but_not_page_filling_backgrounds(tmp_path: Path) -> None:
    picture = Image.new("RGB", (200, 100), "navy")
    picture.save(tmp_path / "pic.png")
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=400)
    page.insert_text((30, 30), "A sixty character slide title above a picture of a table")
    page.insert_image(
        pymupdf.Rect(0, 100, 600, 400), filename=str(tmp_path / "pic.png"), keep_proportion=False
    )
    bg = doc.new_page(width=600, height=400)
    bg.insert_image(bg.rect, filename=str(tmp_path / "pic.png"), keep_proportion=False)
    bg.insert_textbox(pymupdf.Rect(20, 20, 580, 380), "Words written over a template background " * 5)
    doc.save(tmp_path / "slides.pdf")
    reopened = pdf.open_pdf(tmp_path / "slides.pdf")
    assert pdf.layer(reopened[0]).image_coverage == pytest.approx(0.75, abs=0.03)
    assert pdf.layer(reopened[1]).image_coverage == 0.0


def test_multi_frame_tiff_is_one_page_per_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (300, 200), color) for color in ("red", "green", "blue")]
    frames[0].save(tmp_path / "scan.tiff", save_all=True, append_images=frames[1:], dpi=(300, 300))
    assert images.frame_count(tmp_path / "scan.tiff") == 3
    frame = images.load_frame(tmp_path / "scan.tiff", 2)
    assert frame.image.getpixel((5, 5)) == (0, 0, 255)
    assert frame.width_pt == pytest.approx(300 * 72 / 300)


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "PNG", "JPEG"])
def test_single_images_open(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"img.{fmt.lower()}"
    Image.new("RGB", (64, 32), "white").save(path, format=fmt)
    assert images.frame_count(path) == 1
    assert images.load_frame(path, 0).image.size == (64, 32)


def test_a_truncated_image_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    Image.effect_noise((400, 400), 50).convert("RGB").save(path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(UnreadableDocument, match=r"cut\.png"):
        images.load_frame(path, 0)


def test_text_files_are_cut_into_pages_at_paragraphs() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 150 for i in range(10)]
    pages = text.split_pages("\n\n".join(paragraphs), page_chars=2000)
    assert 3 <= len(pages) <= 5
    assert all(len(p) <= 2000 for p in pages)
    assert "".join(pages).count("Paragraph") == 10
    assert text.render_text(pages[0], 72).size == (595, 842)


def test_text_pages_draw_chinese_glyphs_not_blanks() -> None:
    """A Chinese text file's page image reads back as Chinese (Helvetica alone drew '?' boxes)."""
    from pagerag.ingest.ocr import installed_languages, ocr

    if "chi_sim" not in installed_languages():
        pytest.skip("tesseract chi_sim is not installed")
    image = text.render_text("年度报告\n\n收入增长了百分之十二\n", 200)
    hint = "年度报告 收入增长了百分之十二" * 3
    read = ocr(image.convert("L"), ["chi_sim"], hint=hint).text.replace(" ", "")
    assert "收入" in read and "报告" in read
