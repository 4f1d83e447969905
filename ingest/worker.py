"""What runs in the worker processes: prepare a document, then turn page ranges into pages.

Both entry points return values, never raise: a failure becomes a one-line reason
so that one bad file cannot stop the batch (and exceptions with custom
constructors need not cross a process boundary). Page images are written to the
image store here, in the worker, so that only text and small facts travel back.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from pagerag.ingest.errors import DocumentError, UnreadableDocument
from pagerag.ingest.formats import images as image_format
from pagerag.ingest.formats import office
from pagerag.ingest.formats import pdf as pdf_format
from pagerag.ingest.formats import text as text_format
from pagerag.ingest.formats.epub import epub_to_pdf
from pagerag.ingest.formats.html import html_to_pdf
from pagerag.ingest.images_store import ImageStore
from pagerag.ingest.labels import pdf_page_labels
from pagerag.ingest.ocr import default_languages, detect_language, ocr
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.procs import alive
from pagerag.ingest.scan import display
from pagerag.ingest.text import new_lines, normalize, text_quality, usable_chars
from pagerag.ingest.types import Page, SourceFile, WordBox
from pagerag.ingest.words import Box, moved, without_overlap

_OPEN: OrderedDict[tuple[Path, str], Any] = OrderedDict()  # PDFs kept open between tasks, by (path, hash)
_TITLED = frozenset({"pdf", "html", "epub"})  # kinds whose PDF carries the document's own title


@dataclass(frozen=True, slots=True)
class DocJob:
    """A document to ingest: its file, its kind and where scratch files go."""

    file: SourceFile
    kind: str
    work_dir: Path


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document ready to be cut into page tasks.

    Attributes:
        pdf: the PDF to render: the file itself, or its conversion (LibreOffice for office files and
            sheets, MuPDF's layout for HTML and EPUB); None for images/text.
        page_count: pages (slides counted with hidden ones, frames, text parts).
        slides: (text, notes) of each slide of a .pptx deck, else empty.
        texts: the parts of a text file, else empty.
        labels: printed page numbers of each page of a PDF (:mod:`pagerag.ingest.labels`), else empty.
    """

    job: DocJob
    pdf: Path | None
    page_count: int
    title: str
    slides: tuple[tuple[str, str], ...] = ()
    texts: tuple[str, ...] = ()
    labels: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """A worker's answer: a value or the one-line reason it failed."""

    value: Prepared | tuple[Page, ...] | None
    error: str = ""


def init_worker(parent: int | None = None) -> None:
    """Worker set-up: one native thread, Ctrl-C handled by the parent only, exit when ``parent`` dies."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["OMP_THREAD_LIMIT"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="pagerag-parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    """Wait for process ``parent`` to end, then end this worker and its LibreOffice at once.

    A pool's workers are children of the forkserver, not of the ingesting process, and
    each holds both ends of the task queue and the forkserver's keep-alive pipe: when the
    ingesting process is killed (``kill -9``), no worker would ever see an end of file.
    """
    try:
        handle = os.pidfd_open(parent)
    except ProcessLookupError:
        handle = None  # already gone
    except (AttributeError, OSError):  # no pidfd (not Linux, old kernel): poll
        while alive(parent):
            time.sleep(1.0)
        handle = None
    if handle is not None:
        select.select([handle], [], [])
    office.kill_conversions()
    os._exit(1)


def prepare(job: DocJob, options: IngestOptions) -> Outcome:
    """Count a document's pages (converting office files to PDF first) and find its title."""
    try:
        return Outcome(_prepare(job, options))
    except DocumentError as exc:
        return Outcome(None, exc.reason)
    except Exception as exc:  # a bug or a library crash: report it, keep the batch going
        return Outcome(None, f"unexpected error: {type(exc).__name__}: {exc}")


def render_pages(
    prepared: Prepared, first: int, last: int, options: IngestOptions, images_dir: Path
) -> Outcome:
    """Pages ``first``..``last`` (1-based, inclusive) of a prepared document."""
    try:
        store = ImageStore(images_dir)
        pages = tuple(_page(prepared, n, options, store) for n in range(first, last + 1))
        return Outcome(pages)
    except DocumentError as exc:
        return Outcome(None, exc.reason)
    except Exception as exc:
        return Outcome(None, f"page render failed: {type(exc).__name__}: {exc}")


def _prepare(job: DocJob, options: IngestOptions) -> Prepared:
    path = job.file.path
    if job.kind == "image":
        return Prepared(job, None, image_format.frame_count(path), "")
    if job.kind == "text":
        parts = tuple(text_format.split_pages(text_format.read_text(path)))
        if not parts:
            raise UnreadableDocument(display(path), "no text in file")
        return Prepared(job, None, len(parts), _first_line(parts[0]), texts=parts)
    pdf = path
    slides: tuple[tuple[str, str], ...] = ()
    if job.kind != "pdf":
        pdf, slides = _convert(job, options)
    doc = _open(pdf, job.file.doc_id, options.password if job.kind == "pdf" else None)
    title = pdf_format.pdf_title(doc) if job.kind in _TITLED else ""
    if not title:
        first_text = slides[0][0] if slides else doc[0].get_text("text")
        title = _first_line(normalize(first_text))
    labels = () if slides else pdf_page_labels(doc)  # a slide's number is its position
    return Prepared(job, pdf, doc.page_count, title, slides=slides, labels=labels)


def _convert(job: DocJob, options: IngestOptions) -> tuple[Path, tuple[tuple[str, str], ...]]:
    """The PDF of a document that is not one, in its scratch folder, and a deck's slide texts."""
    path = job.file.path
    job.work_dir.mkdir(parents=True, exist_ok=True)
    if job.kind == "html":
        return html_to_pdf(path, job.work_dir), ()
    if job.kind == "epub":
        return epub_to_pdf(path, job.work_dir), ()
    try:
        from pagerag.ingest.formats.office import convert_to_pdf
        from pagerag.ingest.formats.sheets import convert_sheet_to_pdf
    except ImportError as exc:
        raise UnreadableDocument(display(path), f"office conversion is not available: {exc}") from exc
    if job.kind == "sheet":
        return convert_sheet_to_pdf(path, job.work_dir, timeout=options.office_timeout), ()
    pdf = convert_to_pdf(path, job.work_dir, timeout=options.office_timeout)
    slides: tuple[tuple[str, str], ...] = ()
    if path.suffix.lower() == ".pptx":
        from pagerag.ingest.formats.slides import slide_texts

        slides = tuple((s.text, s.notes) for s in slide_texts(path))
    return pdf, slides


def _open(pdf: Path, doc_id: str, password: str | None) -> Any:
    key = (pdf, doc_id)
    doc = _OPEN.get(key)
    if doc is not None and not doc.is_closed:
        _OPEN.move_to_end(key)
        return doc
    doc = pdf_format.open_pdf(pdf, password)
    _OPEN[key] = doc
    while len(_OPEN) > 2:
        _, old = _OPEN.popitem(last=False)
        old.close()
    return doc


def _page(prepared: Prepared, number: int, options: IngestOptions, store: ImageStore) -> Page:
    job = prepared.job
    langs = options.ocr_langs if options.ocr_langs is not None else default_languages()
    if job.kind == "text":
        raw = prepared.texts[number - 1]
        image, words = text_format.render_text_words(raw, options.dpi)
        native = normalize(raw)
        key = store.put(image)
        return _make(
            prepared,
            number,
            store,
            key,
            text=native,
            native=native,
            size=text_format.A4,
            coverage=0.0,
            langs=langs,
            words=words if options.word_boxes else [],
        )
    if job.kind == "image":
        frame = image_format.load_frame(job.file.path, number - 1)
        size = (frame.width_pt, frame.height_pt)
        shown = image_format.scaled(frame.image, *size, options.dpi, options.max_side)
        key = store.put(shown)
        ocr_text = ""
        boxes: list[WordBox] = []
        if options.ocr:
            readable = image_format.scaled(frame.image, *size, options.ocr_dpi, 2 * options.max_side)
            read = ocr(readable, langs, timeout=options.ocr_timeout, words=options.word_boxes)
            ocr_text = normalize(read.text)
            scale = (shown.width / readable.width, shown.height / readable.height)
            boxes = moved(read.words, scale=scale, size=shown.size, ocr=True)
        return _make(
            prepared, number, store, key, text=ocr_text, ocr_text=ocr_text, size=size, coverage=1.0,
            langs=langs, ocr_used=options.ocr, words=boxes,
        )  # fmt: skip
    return _pdf_page(prepared, number, options, store, langs)


def _pdf_page(
    prepared: Prepared, number: int, options: IngestOptions, store: ImageStore, langs: tuple[str, ...]
) -> Page:
    assert prepared.pdf is not None
    password = options.password if prepared.job.kind == "pdf" else None
    doc = _open(prepared.pdf, prepared.job.file.doc_id, password)
    page = doc[number - 1]
    facts = pdf_format.layer(page)
    slide_text, notes = prepared.slides[number - 1] if number <= len(prepared.slides) else ("", "")
    native = normalize(slide_text) or normalize(facts.text)
    size = (facts.width, facts.height)
    if options.renderer == "poppler":
        image = pdf_format.render_poppler(prepared.pdf, number, options.dpi, password, size)
    else:
        image = pdf_format.render(page, options.dpi, max_side=options.max_side)
    key = store.put(image)
    garbled = usable_chars(native) > 0 and text_quality(native) < options.garbled_quality
    no_text = usable_chars(native) < options.min_text_chars or garbled
    ocr_text, ocr_used = "", False
    ocr_words: list[WordBox] = []
    if options.ocr and (no_text or facts.image_coverage >= options.ocr_coverage):
        clip = None if no_text or not facts.image_boxes else _union(facts.image_boxes)
        readable: Image.Image = pdf_format.render(
            page, options.ocr_dpi, gray=True, clip=clip, max_side=2 * options.max_side
        )
        hint = "" if garbled else native
        read = ocr(readable, langs, hint=hint, timeout=options.ocr_timeout, words=options.word_boxes)
        ocr_text = normalize(read.text)
        ocr_used = True
        ocr_words = _placed(read.words, readable.size, clip or (0.0, 0.0, *size), size, image.size)
    kept = "" if garbled and usable_chars(ocr_text) >= usable_chars(native) // 2 else native
    added = new_lines(ocr_text, kept) if kept else ocr_text  # OCR only for what the text layer lacks
    text = "\n\n".join(t for t in (kept, added, normalize(notes)) if t)
    words = pdf_format.text_words(page, image.size) if options.word_boxes and kept else []
    words += without_overlap(ocr_words, words)
    return _make(
        prepared, number, store, key, text=text, native=native, ocr_text=ocr_text, notes=normalize(notes),
        size=size, coverage=facts.image_coverage, langs=langs, ocr_used=ocr_used, words=words,
    )  # fmt: skip


def _placed(
    words: Sequence[Box],
    read_size: tuple[int, int],
    region: tuple[float, float, float, float],
    page_size: tuple[float, float],
    image_size: tuple[int, int],
) -> list[WordBox]:
    """OCR boxes of an image of ``region`` (points, within the page) put on the page image."""
    x0, y0 = max(region[0], 0.0), max(region[1], 0.0)
    x1, y1 = min(region[2], page_size[0]), min(region[3], page_size[1])  # MuPDF renders the overlap
    px, py = image_size[0] / max(page_size[0], 1e-6), image_size[1] / max(page_size[1], 1e-6)
    scale = ((x1 - x0) / max(read_size[0], 1) * px, (y1 - y0) / max(read_size[1], 1) * py)
    return moved(words, scale=scale, offset=(x0 * px, y0 * py), size=image_size, ocr=True)


def _make(
    prepared: Prepared,
    number: int,
    store: ImageStore,
    key: str,
    *,
    text: str,
    size: tuple[float, float],
    coverage: float,
    langs: tuple[str, ...],
    native: str = "",
    ocr_text: str = "",
    notes: str = "",
    ocr_used: bool = False,
    words: Sequence[WordBox] = (),
) -> Page:
    return Page(
        doc_id=prepared.job.file.doc_id,
        source=prepared.job.file.source,
        page=number,
        page_count=prepared.page_count,
        text=text,
        native_text=native,
        ocr_text=ocr_text,
        notes=notes,
        title=prepared.title,
        image_path=store.path(key),
        thumb_path=store.thumb_path(key),
        width=size[0],
        height=size[1],
        ocr_used=ocr_used,
        image_coverage=round(coverage, 4),
        lang=detect_language(text, langs or ("eng",)) or "",
        labels=prepared.labels[number - 1] if number <= len(prepared.labels) else (),
        words=tuple(words),
    )


def _union(boxes: tuple[tuple[float, float, float, float], ...]) -> tuple[float, float, float, float]:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""
