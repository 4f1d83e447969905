"""OCR reads the figures of shaded table cells (black digits on mid-grey), which one pass loses."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pagerag.ingest.ocr import ocr, run_tesseract

pytestmark = pytest.mark.skipif(not shutil.which("tesseract"), reason="tesseract is not installed")


def _table() -> Image.Image:
    img = Image.new("L", (1400, 400), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=34)
    draw.text((40, 40), "Data sets made available to the public by date", fill=0, font=font)
    for top, label, light, dark in ((150, "Total data sets available", "272,768", "389,933"),
                                    (240, "Data set downloads", "652,412", "2,348,928")):  # fmt: skip
        draw.rectangle((40, top, 600, top + 80), fill=45)
        draw.text((60, top + 20), label, fill=255, font=font)
        draw.rectangle((610, top, 900, top + 80), fill=215)
        draw.text((700, top + 20), light, fill=0, font=font)
        draw.rectangle((910, top, 1200, top + 80), fill=95)
        draw.text((970, top + 20), dark, fill=0, font=font)
    return img.filter(ImageFilter.GaussianBlur(1.2))  # a scan's softness


def test_figures_on_dark_grey_cells_are_read_with_their_boxes() -> None:
    image = _table()
    if "389,933" in run_tesseract(image, ["eng"]).text:
        pytest.skip("this tesseract reads the shaded cell in one pass")
    read = ocr(image, ["eng"], words=True)
    assert "389,933" in read.text and "272,768" in read.text
    boxes = [w for w in read.words if w[0] == "389,933"]
    assert len(boxes) == 1 and boxes[0][1] > 900  # drawn in the grey column


def test_a_page_without_grey_is_read_once() -> None:
    image = Image.new("L", (900, 200), 255)
    ImageDraw.Draw(image).text((20, 60), "Plain text on white", fill=0, font=ImageFont.load_default(size=34))
    assert ocr(image, ["eng"]).text.strip() == run_tesseract(image, ["eng"]).text.strip()
