"""Values that flow out of ingestion: documents and their pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file found under an ingested root.

    Attributes:
        path: absolute path on disk.
        source: path relative to the ingested root, with ``/`` separators (the name users see).
        doc_id: content hash (sha256 hex) of the file's bytes: the document's identity.
        size: bytes.
    """

    path: Path
    source: str
    doc_id: str
    size: int


@dataclass(frozen=True, slots=True)
class WordBox:
    """One word on a page image and where it is drawn.

    Coordinates are pixels of the stored page image (``Page.image_path``), origin top
    left: PDF points times ``dpi / 72`` (less where the page was clamped to ``max_side``).

    Attributes:
        text: the word as the text layer or OCR gives it.
        x0: left edge.
        y0: top edge.
        x1: right edge.
        y1: bottom edge.
        ocr: read by OCR (a scan or a picture region) rather than taken from the text layer.

    Example:
        >>> WordBox("4.2", 310, 402, 352, 428, ocr=True).x1
        352
    """

    text: str
    x0: int
    y0: int
    x1: int
    y1: int
    ocr: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a document: its rendered image and its text.

    Attributes:
        doc_id: content hash of the document.
        source: document path relative to the ingested root.
        page: 1-based page number (slide N of a deck is page N, hidden slides counted).
        page_count: pages in the document.
        text: the text fed to text models: native text + OCR text + slide notes, normalised.
        native_text: the PDF/slide text layer, normalised.
        ocr_text: OCR output ("" when OCR did not run).
        notes: speaker notes of a slide ("" otherwise).
        title: document title (metadata or first line), may be "".
        image_path: absolute path of the saved page image (PNG/WebP in the index dir), or None.
        thumb_path: absolute path of the small thumbnail, or None.
        width: page width in points (1/72 inch).
        height: page height in points.
        ocr_used: OCR ran on this page.
        image_coverage: fraction of the page area covered by images (0..1).
        lang: language code if known ("" otherwise).
        labels: page numbers printed on the page (header/footer or the PDF's page labels),
            when they differ from or confirm its position; empty when none were found.
        words: the words drawn on the page image with their boxes, as ingestion found them;
            :meth:`Catalog.pages` leaves this empty (read them with :meth:`Catalog.words`).
    """

    doc_id: str
    source: str
    page: int
    page_count: int
    text: str
    native_text: str = ""
    ocr_text: str = ""
    notes: str = ""
    title: str = ""
    image_path: Path | None = None
    thumb_path: Path | None = None
    width: float = 0.0
    height: float = 0.0
    ocr_used: bool = False
    image_coverage: float = 0.0
    lang: str = ""
    labels: tuple[int, ...] = ()
    words: tuple[WordBox, ...] = ()


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A document as the index knows it."""

    doc_id: str
    source: str
    pages: int
    title: str = ""
    indexed_at: str = ""
    kind: str = ""


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A file that was skipped or failed, and why (one line)."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingest run did.

    ``documents`` and ``pages`` count what the index holds after the run; the other
    counters are for this run only.
    """

    documents: int
    pages: int
    indexed: int
    unchanged: int
    removed: int
    renamed: int
    pages_indexed: int
    skipped: tuple[FileProblem, ...] = ()
    failed: tuple[FileProblem, ...] = ()
    seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed
