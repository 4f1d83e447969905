"""PDF pages with PyMuPDF: open (passwords, damage), render (size clamped), text layer, word boxes, images.

``--renderer poppler`` renders through pdf2image (``pdftoppm``) instead; text and
layout facts always come from PyMuPDF.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from pagerag.ingest.errors import EncryptedDocument, MissingDependency, UnreadableDocument
from pagerag.ingest.scan import display
from pagerag.ingest.types import WordBox
from pagerag.ingest.words import Box, moved

MAX_SIDE = 2400
"""Longest side in pixels of any rendered page (a 200-inch poster would otherwise be 28,800)."""
MAX_PIXELS = 2400 * 2400
_GRID = 48  # cells per side of the grid that measures how much of a page images cover


@dataclass(frozen=True, slots=True)
class PageLayer:
    """What a PDF page carries besides its pixels.

    Attributes:
        text: the raw text layer (not yet normalised).
        width: page width in points.
        height: page height in points.
        image_coverage: fraction of the page area under images (0..1).
        image_boxes: boxes (x0, y0, x1, y1 in points) of images covering at least 5% of the page.
    """

    text: str
    width: float
    height: float
    image_coverage: float
    image_boxes: tuple[tuple[float, float, float, float], ...]


def open_pdf(path: Path, password: str | None = None) -> Any:
    """Open a PDF with PyMuPDF.

    Raises:
        EncryptedDocument: it needs a password and ``password`` is missing or wrong.
        UnreadableDocument: it is corrupt, truncated beyond repair or has no pages.
    """
    pymupdf = _pymupdf()
    name = display(path)
    try:
        doc = _open_any_name(pymupdf, path)
    except OSError as exc:
        raise UnreadableDocument(name, f"cannot read: {exc.strerror or exc}") from exc
    except Exception as exc:  # MuPDF raises its own FileDataError / RuntimeError kinds
        raise UnreadableDocument(name, f"corrupt PDF: {_first_line(exc).replace(str(path), name)}") from exc
    if doc.needs_pass:
        if not password:
            doc.close()
            raise EncryptedDocument(name, "encrypted PDF: a password is needed (--password)")
        if not doc.authenticate(password):
            doc.close()
            raise EncryptedDocument(name, "encrypted PDF: the password given is wrong")
    if doc.page_count == 0:
        doc.close()
        raise UnreadableDocument(name, "PDF has no pages")
    if doc.is_repaired and _cut_short(path):
        doc.close()
        raise UnreadableDocument(name, "truncated PDF (the file ends before its end-of-file marker)")
    return doc


def _open_any_name(pymupdf: Any, path: Path) -> Any:
    """Open ``path`` even when its name is not valid UTF-8 (MuPDF takes UTF-8 names only)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        with tempfile.TemporaryDirectory(prefix="pagerag-pdf-") as tmp:
            link = Path(tmp) / "document.pdf"
            link.symlink_to(path.absolute())
            return pymupdf.open(link, filetype="pdf")  # MuPDF holds the file open: the link can go
    return pymupdf.open(path, filetype="pdf")


def _cut_short(path: Path) -> bool:
    """No ``%%EOF`` near the end: the file was cut off (a download or copy that stopped)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 4096))
            return b"%%EOF" not in fh.read()
    except OSError:
        return False


def pdf_title(doc: Any) -> str:
    """The title from the PDF's metadata ("" when absent)."""
    meta = doc.metadata or {}
    return str(meta.get("title") or "").strip()


def zoom_for(width_pt: float, height_pt: float, dpi: float, max_side: int = MAX_SIDE) -> float:
    """Scale factor from points to pixels at ``dpi``, reduced so the image fits ``max_side``.

    Example:
        >>> round(zoom_for(14400, 14400, 144), 4)  # a 200 x 200 inch page
        0.1667
    """
    zoom = dpi / 72.0
    longest = max(width_pt, height_pt, 1.0) * zoom
    if longest > max_side:
        zoom *= max_side / longest
    area = max(width_pt, 1.0) * max(height_pt, 1.0) * zoom * zoom
    if area > MAX_PIXELS:
        zoom *= math.sqrt(MAX_PIXELS / area)
    return zoom


def render(
    page: Any,
    dpi: float,
    *,
    gray: bool = False,
    clip: tuple[float, float, float, float] | None = None,
    max_side: int = MAX_SIDE,
) -> Image.Image:
    """Render a PyMuPDF page (or a clip of it) to a PIL image, size clamped.

    Raises:
        UnreadableDocument: MuPDF cannot draw the page.
    """
    pymupdf = _pymupdf()
    rect = pymupdf.Rect(clip) if clip else page.rect
    zoom = zoom_for(rect.width, rect.height, dpi, max_side)
    try:
        pix = page.get_pixmap(
            matrix=pymupdf.Matrix(zoom, zoom),
            clip=rect if clip else None,
            colorspace=pymupdf.csGRAY if gray else pymupdf.csRGB,
            alpha=False,
        )
    except Exception as exc:
        raise UnreadableDocument(display(page.parent.name), f"page {page.number + 1}: {exc}") from exc
    mode = "L" if gray else "RGB"
    return Image.frombytes(mode, (pix.width, pix.height), pix.samples)


def render_poppler(
    path: Path, page_number: int, dpi: float, password: str | None, size: tuple[float, float]
) -> Image.Image:
    """Render page ``page_number`` (1-based) with poppler's ``pdftoppm`` through pdf2image."""
    try:
        from pdf2image import convert_from_path
    except ImportError as exc:
        raise MissingDependency("pdf2image", "poppler") from exc
    zoom = zoom_for(size[0], size[1], dpi)
    try:
        images = convert_from_path(
            str(path),
            dpi=round(zoom * 72.0),
            first_page=page_number,
            last_page=page_number,
            userpw=password or "",
            timeout=120,
        )
    except Exception as exc:
        raise UnreadableDocument(
            display(path), f"poppler could not render page {page_number}: {exc}"
        ) from exc
    if not images:
        raise UnreadableDocument(display(path), f"poppler rendered nothing for page {page_number}")
    image: Image.Image = images[0].convert("RGB")
    return image


def layer(page: Any) -> PageLayer:
    """Text layer and image coverage of a PyMuPDF page."""
    pymupdf = _pymupdf()
    rect = page.rect
    width, height = float(rect.width), float(rect.height)
    try:
        text = page.get_text("text", flags=pymupdf.TEXT_DEHYPHENATE | pymupdf.TEXT_MEDIABOX_CLIP)
    except Exception:
        text = ""
    boxes: list[tuple[float, float, float, float]] = []
    try:
        infos = page.get_image_info()
    except Exception:
        infos = []
    for info in infos:
        box = pymupdf.Rect(info["bbox"]) * page.rotation_matrix & rect  # as drawn on a turned page
        if not box.is_empty:
            boxes.append((box.x0 - rect.x0, box.y0 - rect.y0, box.x1 - rect.x0, box.y1 - rect.y0))
    page_area = max(width * height, 1.0)
    boxes = _without_backgrounds(page, boxes, page_area)
    coverage = _coverage(boxes, width, height)
    big = tuple(b for b in boxes if (b[2] - b[0]) * (b[3] - b[1]) >= 0.05 * page_area)
    return PageLayer(text, width, height, coverage, big)


def text_words(page: Any, size: tuple[int, int]) -> list[WordBox]:
    """The text layer's words with their boxes in the pixels of ``page`` rendered at ``size``.

    Example:
        >>> [w.text for w in text_words(doc[0], image.size)][:3]  # doctest: +SKIP
        ['Quarterly', 'report', 'Q4']
    """
    rect = page.rect
    scale = (size[0] / max(rect.width, 1e-6), size[1] / max(rect.height, 1e-6))
    return moved(_words(page), scale=scale, size=size, ocr=False)


def _words(page: Any) -> list[Box]:
    """The text layer's words in points, as drawn on the (possibly turned) page."""
    pymupdf = _pymupdf()
    rect = page.rect
    try:
        raw = page.get_text("words")
    except Exception:
        return []
    turn = page.rotation_matrix  # MuPDF gives words on the unrotated page
    boxes: list[Box] = []
    for x0, y0, x1, y1, text, *_ in raw:
        r = pymupdf.Rect(x0, y0, x1, y1) * turn
        boxes.append((text, r.x0 - rect.x0, r.y0 - rect.y0, r.x1 - rect.x0, r.y1 - rect.y0))
    return boxes


def _without_backgrounds(
    page: Any, boxes: list[tuple[float, float, float, float]], page_area: float
) -> list[tuple[float, float, float, float]]:
    """Drop page-filling images with the text layer written over them (slide templates, OCRed scans).

    Their text is already in the text layer (a bad OCR layer is caught by its quality
    instead); a picture of a table under a slide title is not page-filling and stays.
    """
    full = [b for b in boxes if (b[2] - b[0]) * (b[3] - b[1]) >= 0.95 * page_area]
    if not full:
        return boxes
    words = _words(page)
    if len(words) < 5:
        return boxes
    kept = []
    for b in boxes:
        if b in full:
            inside = sum(
                1
                for _, x0, y0, x1, y1 in words
                if x0 >= b[0] - 1 and y0 >= b[1] - 1 and x1 <= b[2] + 1 and y1 <= b[3] + 1
            )
            if inside >= 0.5 * len(words):
                continue
        kept.append(b)
    return kept


def _coverage(boxes: list[tuple[float, float, float, float]], width: float, height: float) -> float:
    """Fraction of the page under the union of ``boxes``, measured on a coarse grid."""
    if not boxes or width <= 0 or height <= 0:
        return 0.0
    cells = [[False] * _GRID for _ in range(_GRID)]
    for x0, y0, x1, y1 in boxes:
        c0, c1 = int(x0 / width * _GRID), math.ceil(x1 / width * _GRID)
        r0, r1 = int(y0 / height * _GRID), math.ceil(y1 / height * _GRID)
        for r in range(max(r0, 0), min(r1, _GRID)):
            row = cells[r]
            for c in range(max(c0, 0), min(c1, _GRID)):
                row[c] = True
    return sum(sum(row) for row in cells) / (_GRID * _GRID)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _pymupdf() -> Any:
    """PyMuPDF, typed loosely (it ships no annotations mypy --strict accepts)."""
    import pymupdf

    return pymupdf
