"""Tiny real documents for the ingest tests: PDFs with text, image-only scans, encrypted and broken files."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pymupdf
from PIL import Image

LOREM = (
    "The harbour authority counted {n} container ships this quarter, more than in any quarter before. "
    "Cargo volumes grew in every terminal and the new cranes worked without a single stop."
)

ZERO_PAGE_PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


def write_pdf(path: Path, texts: Sequence[str], size: tuple[float, float] = (595, 842)) -> Path:
    """A born-digital PDF, one page per text."""
    doc = pymupdf.open()
    for text in texts:
        page = doc.new_page(width=size[0], height=size[1])
        page.insert_textbox(pymupdf.Rect(50, 50, size[0] - 50, size[1] - 50), text, fontsize=11)
    doc.save(path)
    doc.close()
    return path


def write_encrypted(path: Path, password: str) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "This confidential memo names the harbour budget.")
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password + "-owner")
    doc.close()
    return path


def text_image(
    lines: Sequence[str], *, width: float = 500, fontsize: float = 16, dpi: int = 200
) -> Image.Image:
    """Lines of text drawn by MuPDF and rasterised: what a scanner would see."""
    height = 40 + len(lines) * fontsize * 1.8
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    page.insert_textbox(pymupdf.Rect(20, 20, width - 20, height - 10), "\n".join(lines), fontsize=fontsize)
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    doc.close()
    return Image.frombytes("L", (pix.width, pix.height), pix.samples)


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def write_scan(path: Path, lines: Sequence[str], *, hidden_text: str = "") -> Path:
    """An image-only PDF page (a scan), optionally with an invisible text layer (a scanner's OCR)."""
    image = text_image(lines)
    doc = pymupdf.open()
    page = doc.new_page(width=image.width * 72 / 200, height=image.height * 72 / 200)
    page.insert_image(page.rect, stream=png_bytes(image))
    if hidden_text:
        page.insert_textbox(page.rect, hidden_text, fontsize=9, render_mode=3)
    doc.save(path)
    doc.close()
    return path
