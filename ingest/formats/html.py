"""HTML files as pages: MuPDF lays them out on A4 pages, with images from the file's own folder only.

MuPDF reads a page's images, style sheets and fonts from an archive it is handed, never from
the disk by itself. This backend hands it an archive in memory holding only the files the
page names that lie inside its own folder (symbolic links followed, then checked): ``../``,
absolute paths, ``file:`` and ``http:`` URLs stay out and are drawn as MuPDF's ``[image]``
placeholder. The laid-out pages are saved as a PDF, which then goes the PDF path (text
layer, word boxes, OCR of pictures); EPUB books share that last step.
"""

from __future__ import annotations

import html
import os
import posixpath
import re
import stat
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pagerag.ingest.errors import ConversionFailed, DocumentError, UnreadableDocument
from pagerag.ingest.formats.text import A4
from pagerag.ingest.scan import display

FONT_SIZE = 11.0
"""Points; the size of body text where the page's style sheet sets none."""
MAX_RESOURCE_BYTES = 32 << 20
"""Largest image, style sheet or font read for a page; bigger ones are left out."""
MAX_RESOURCES = 512

# What MuPDF's HTML layout can load: images, style sheets, fonts.
_RESOURCE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".svg", ".jxr"}
    | {".css", ".ttf", ".otf", ".ttc", ".woff", ".woff2"}
)
_REFERENCE = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*|\burl\(\s*|@import\s+)(?:"([^"]*)"|'([^']*)'|([^\s"'<>()]+))""",
    re.IGNORECASE,
)


def html_to_pdf(path: Path, out_dir: Path) -> Path:
    """Lay out an HTML file on A4 pages and save them as ``out_dir/<stem>.pdf`` (title kept).

    Raises:
        UnreadableDocument: the file cannot be read, MuPDF cannot lay it out, or it shows nothing.
        ConversionFailed: the PDF cannot be written.

    Example:
        >>> html_to_pdf(Path("docs/report.html"), Path("/tmp/work")).name  # doctest: +SKIP
        'report.pdf'
    """
    name = display(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(name, f"cannot read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise UnreadableDocument(name, "empty file (no HTML)")
    pymupdf = _pymupdf()
    archive = pymupdf.Archive()
    for resource, content in resources(path.parent, _decode(data)):
        archive.add((content, resource))
    try:
        doc = pymupdf.open(
            stream=data, filetype="html", archive=archive, width=A4[0], height=A4[1], fontsize=FONT_SIZE
        )
    except Exception as exc:  # MuPDF's own error kinds
        raise UnreadableDocument(name, f"cannot lay out the HTML: {_one_line(exc)}") from exc
    return reflowed_to_pdf(doc, path, out_dir)


def resources(folder: Path, page: str) -> list[tuple[str, bytes]]:
    """The files ``page`` refers to that lie inside ``folder``, as ``(name, bytes)`` for MuPDF's archive.

    Names are paths relative to ``folder`` with ``/`` separators, as MuPDF asks for them.
    Style sheets are searched in turn (``@import``, ``url(...)``, relative to themselves).
    Only images, style sheets and fonts are read, each at most :data:`MAX_RESOURCE_BYTES`.

    Example:
        >>> page = '<img src="../secret.png"><img src="file:///etc/passwd"><img src="a.png">'
        >>> [name for name, _ in resources(Path("docs"), page)]  # doctest: +SKIP
        ['a.png']
    """
    root = os.path.realpath(folder)
    found: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    pending = [(page, "")]
    while pending and len(found) < MAX_RESOURCES:
        text, base = pending.pop()
        for match in _REFERENCE.finditer(text):
            name = _inside_name(base, next(g for g in match.groups() if g is not None))
            if name is None or name in seen:
                continue
            seen.add(name)
            content = _read_inside(root, name)
            if content is None:
                continue
            found.append((name, content))
            if name.lower().endswith(".css"):
                pending.append((_decode(content), posixpath.dirname(name)))
    return found[:MAX_RESOURCES]


def reflowed_to_pdf(doc: Any, path: Path, out_dir: Path) -> Path:
    """Save a laid-out MuPDF document (HTML, EPUB) as ``out_dir/<stem>.pdf``; ``doc`` is closed.

    Raises:
        UnreadableDocument: MuPDF fails while drawing it, or no page shows text or an image.
        ConversionFailed: the PDF cannot be written.
    """
    pymupdf = _pymupdf()
    name = display(path)
    try:
        title = str((doc.metadata or {}).get("title") or "").strip()
        pdf = pymupdf.open("pdf", doc.convert_to_pdf())
    except Exception as exc:
        raise UnreadableDocument(name, f"cannot lay out the pages: {_one_line(exc)}") from exc
    finally:
        doc.close()
    target = out_dir / f"{path.stem}.pdf"
    try:
        if not any(page.get_text("text").strip() or page.get_images() for page in pdf):
            raise UnreadableDocument(name, "nothing to show (no text and no images)")
        if title:
            pdf.set_metadata({"title": title})
        pdf.save(target, garbage=1, deflate=True)
    except DocumentError:
        raise
    except Exception as exc:
        raise ConversionFailed(name, f"cannot write {display(target)}: {_one_line(exc)}") from exc
    finally:
        pdf.close()
    return target


def _inside_name(base: str, reference: str) -> str | None:
    """The folder-relative name of a relative reference to a resource, or None (outside, URL, other file)."""
    reference = html.unescape(reference).strip()
    parts = urlsplit(reference)
    if parts.scheme or parts.netloc or not parts.path or parts.path.startswith(("/", "\\")):
        return None  # file:, http:, data:, C:\, //host, /absolute, #fragment
    name = posixpath.normpath(posixpath.join(base, unquote(parts.path)))
    if name == ".." or name.startswith("../"):
        return None
    if posixpath.splitext(name)[1].lower() not in _RESOURCE_SUFFIXES:
        return None
    return name


def _read_inside(root: str, name: str) -> bytes | None:
    """The bytes of ``root/name`` if it is, links followed, a small regular file inside ``root``."""
    real = os.path.realpath(os.path.join(root, *name.split("/")))
    try:
        if os.path.commonpath([real, root]) != root:
            return None
        st = os.stat(real)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_RESOURCE_BYTES:
            return None
        with open(real, "rb") as handle:
            return handle.read(MAX_RESOURCE_BYTES + 1)[:MAX_RESOURCE_BYTES]
    except (OSError, ValueError):
        return None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _pymupdf() -> Any:
    """PyMuPDF, typed loosely (it ships no annotations mypy --strict accepts)."""
    import pymupdf

    return pymupdf
