"""Settings of one ingest run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Renderer = Literal["pymupdf", "poppler"]


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """How files become pages.

    Attributes:
        dpi: resolution of the saved page images (what visual models and people see).
        ocr_dpi: resolution of the images handed to tesseract.
        ocr_langs: tesseract languages OCR may choose from, per page; None: the installed
            ones among eng, deu, fra, spa, nld, chi_sim, kor, fas.
        ocr: run OCR at all.
        renderer: ``"pymupdf"`` or ``"poppler"`` (pdf2image; the ``[poppler]`` extra).
        workers: render/OCR processes (0: in this process, handy for debugging).
        password: tried on encrypted PDFs.
        sync: remove documents whose files are gone from the ingested folders.
        pages_per_task: pages a worker renders per task (the streaming batch).
        ocr_coverage: share of the page under images from which the page is OCRed
            (text in charts, diagrams, screenshots, pictures of tables).
        min_text_chars: fewer letters and digits than this: no usable text layer.
        garbled_quality: text layers scoring below this (:func:`text_quality`) are redone by OCR.
        max_side: longest side of any rendered image, in pixels.
        office_timeout: seconds LibreOffice may take per document.
        ocr_timeout: seconds tesseract may take per call.
        word_boxes: keep every page's words with their boxes on the page image (text layer
            and OCR), so that a viewer can mark the words of an answer.

    Example:
        >>> IngestOptions(dpi=100, ocr_langs=("eng",), workers=1).dpi
        100
    """

    dpi: int = 144
    ocr_dpi: int = 200
    ocr_langs: tuple[str, ...] | None = None
    ocr: bool = True
    renderer: Renderer = "pymupdf"
    workers: int = 2
    password: str | None = None
    sync: bool = False
    pages_per_task: int = 4
    ocr_coverage: float = 0.2
    min_text_chars: int = 40
    garbled_quality: float = 0.5
    max_side: int = 2400
    office_timeout: float = 180.0
    ocr_timeout: float = 120.0
    word_boxes: bool = True
