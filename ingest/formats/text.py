"""Plain text and Markdown files as pages: the text cut at paragraph breaks, each part drawn on an A4 page."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PIL import Image

from pagerag.ingest.errors import UnreadableDocument
from pagerag.ingest.formats.pdf import text_words
from pagerag.ingest.scan import display
from pagerag.ingest.types import WordBox

PAGE_CHARS = 3000
"""About one printed page of prose."""
A4 = (595.0, 842.0)


def read_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM), else Latin-1.

    Raises:
        UnreadableDocument: the file cannot be read or holds no text.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(display(path), f"cannot read: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if not text.strip():
        raise UnreadableDocument(display(path), "no text in file")
    return text


def split_pages(text: str, page_chars: int = PAGE_CHARS) -> list[str]:
    """Cut ``text`` into parts of at most about ``page_chars`` characters, at paragraph or line breaks.

    Example:
        >>> split_pages("a\\n\\nb", page_chars=2)
        ['a', 'b']
    """
    pages: list[str] = []
    current = ""
    for para in text.replace("\r\n", "\n").split("\n\n"):
        while len(para) > page_chars:  # one huge paragraph: cut at the last line break or space
            cut = max(para.rfind("\n", 0, page_chars), para.rfind(" ", 0, page_chars))
            cut = cut if cut > page_chars // 2 else page_chars
            head, para = para[:cut], para[cut:].lstrip()
            if current.strip():
                pages.append(current.strip())
            current = ""
            pages.append(head.strip())
        if current and len(current) + len(para) + 2 > page_chars:
            pages.append(current.strip())
            current = ""
        current = f"{current}\n\n{para}" if current else para
    if current.strip():
        pages.append(current.strip())
    return [p for p in pages if p]


_CSS = "* {font-family: sans-serif; font-size: 10pt; white-space: pre-wrap;}"


def render_text(text: str, dpi: float) -> Image.Image:
    """Draw ``text`` on an A4 page (what a reader of the file would see printed)."""
    return render_text_words(text, dpi)[0]


def render_text_words(text: str, dpi: float) -> tuple[Image.Image, list[WordBox]]:
    """:func:`render_text` and the words it drew, with their boxes on the image.

    Example:
        >>> image, words = render_text_words("Harbour report", 72)
        >>> [w.text for w in words], image.size
        (['Harbour', 'report'], (595, 842))
    """
    pymupdf = _pymupdf()
    doc = pymupdf.open()
    try:
        page = doc.new_page(width=A4[0], height=A4[1])
        box = pymupdf.Rect(50, 50, A4[0] - 50, A4[1] - 50)
        # MuPDF's HTML layout picks fallback fonts per script (CJK, Arabic/Persian right to left, Cyrillic)
        # and scales the text down until it fits the page.
        page.insert_htmlbox(box, html.escape(text), css=_CSS, scale_low=0)
        zoom = dpi / 72.0
        pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
        return image, text_words(page, image.size)
    finally:
        doc.close()


def _pymupdf() -> Any:
    """PyMuPDF, typed loosely (it ships no annotations mypy --strict accepts)."""
    import pymupdf

    return pymupdf
