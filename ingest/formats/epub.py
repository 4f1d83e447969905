"""EPUB books as pages: MuPDF lays the chapters out on A4 pages, each chapter from a new page.

A book reads its images, style sheets and fonts from its own ZIP package only, so nothing
outside it is opened. The pages are saved as a PDF (:func:`~pagerag.ingest.formats.html.reflowed_to_pdf`)
that then goes the PDF path.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import EncryptedDocument, UnreadableDocument
from pagerag.ingest.formats.html import FONT_SIZE, reflowed_to_pdf
from pagerag.ingest.formats.text import A4
from pagerag.ingest.scan import display

_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
# Font obfuscation (IDPF, Adobe) hides fonts only; any other algorithm there is DRM on the text.
_FONT_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
_ALGORITHM = re.compile(rb"""Algorithm\s*=\s*["']([^"']+)["']""")


def epub_to_pdf(path: Path, out_dir: Path) -> Path:
    """Lay out an EPUB book on A4 pages and save them as ``out_dir/<stem>.pdf`` (title kept).

    Raises:
        UnreadableDocument: the ZIP package is broken, is not an EPUB, or MuPDF cannot lay it out.
        EncryptedDocument: the book's content is DRM-encrypted.
        ConversionFailed: the PDF cannot be written.

    Example:
        >>> epub_to_pdf(Path("books/tides.epub"), Path("/tmp/work")).name  # doctest: +SKIP
        'tides.pdf'
    """
    check_epub(path)
    name = display(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(name, f"cannot read: {exc.strerror or exc}") from exc
    try:
        doc = _pymupdf().open(stream=data, filetype="epub", width=A4[0], height=A4[1], fontsize=FONT_SIZE)
    except Exception as exc:  # MuPDF's own error kinds
        lines = str(exc).strip().splitlines()
        raise UnreadableDocument(name, f"corrupt EPUB: {lines[0] if lines else type(exc).__name__}") from exc
    return reflowed_to_pdf(doc, path, out_dir)


def check_epub(path: Path) -> None:
    """Check that ``path`` is a readable, unencrypted EPUB package.

    Raises:
        UnreadableDocument: not a readable ZIP archive, or no ``META-INF/container.xml`` in it.
        EncryptedDocument: ``META-INF/encryption.xml`` encrypts more than fonts (DRM).

    Example:
        >>> check_epub(Path("half-downloaded.epub"))  # doctest: +SKIP
        Traceback (most recent call last):
        UnreadableDocument: half-downloaded.epub: corrupt EPUB (broken ZIP archive: ...)
    """
    name = display(path)
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            encryption = b""
            if _ENCRYPTION in names:
                with package.open(_ENCRYPTION) as entry:
                    encryption = entry.read(1 << 20)
    except Exception as exc:  # BadZipFile, zlib.error, EOFError, OSError...: all say "broken"
        raise UnreadableDocument(name, f"corrupt EPUB (broken ZIP archive: {exc})") from exc
    if _CONTAINER not in names:
        raise UnreadableDocument(name, f"not an EPUB (no {_CONTAINER} in the archive)")
    if any(a.decode("ascii", "replace") not in _FONT_OBFUSCATION for a in _ALGORITHM.findall(encryption)):
        raise EncryptedDocument(name, "DRM-protected EPUB (its content is encrypted)")


def _pymupdf() -> Any:
    """PyMuPDF, typed loosely (it ships no annotations mypy --strict accepts)."""
    import pymupdf

    return pymupdf
