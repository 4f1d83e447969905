"""Find the files to ingest under the given paths, sniff their type, hash their bytes.

The walk follows symbolic links to directories but never loops (each directory is
entered once, by its device and inode), skips hidden entries and the index
directory, and turns every problem into a one-line :class:`FileProblem` instead of
an exception: a broken link, a loop, a directory it may not read, a file whose
content is not what its suffix says.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pagerag.ingest.errors import UnreadableDocument, UnsupportedFormat
from pagerag.ingest.types import FileProblem

PDF_SUFFIXES = frozenset({".pdf"})
SLIDE_SUFFIXES = frozenset({".pptx", ".ppt", ".odp", ".key"})
OFFICE_SUFFIXES = SLIDE_SUFFIXES | {".docx", ".doc", ".odt", ".rtf"}
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"})
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
SHEET_SUFFIXES = frozenset({".xlsx", ".xls", ".ods", ".csv"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
EPUB_SUFFIXES = frozenset({".epub"})
READABLE_SUFFIXES = (
    PDF_SUFFIXES
    | OFFICE_SUFFIXES
    | IMAGE_SUFFIXES
    | TEXT_SUFFIXES
    | SHEET_SUFFIXES
    | HTML_SUFFIXES
    | EPUB_SUFFIXES
)
"""Every suffix pagerag reads (what an upload may be)."""

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEAD = 4096


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A file that looks ingestible.

    Attributes:
        path: absolute path (symbolic links in it kept as given).
        source: path relative to the ingested root, ``/``-separated, printable.
        kind: ``"pdf"``, ``"office"``, ``"sheet"``, ``"html"``, ``"epub"``, ``"image"`` or ``"text"``.
        size: bytes.
    """

    path: Path
    source: str
    kind: str
    size: int


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a walk found: ingestible files and the files it could not take, with reasons."""

    files: tuple[FoundFile, ...]
    skipped: tuple[FileProblem, ...]
    failed: tuple[FileProblem, ...]
    roots: tuple[Path, ...]


def display(path: str | os.PathLike[str]) -> str:
    """A printable form of a path whose name may not be valid UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def kind_of(suffix: str) -> str | None:
    """The kind of file a suffix promises, or None when pagerag does not read it."""
    suffix = suffix.lower()
    if suffix in PDF_SUFFIXES:
        return "pdf"
    if suffix in OFFICE_SUFFIXES:
        return "office"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix in SHEET_SUFFIXES:
        return "sheet"
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix in EPUB_SUFFIXES:
        return "epub"
    return None


def describe(head: bytes) -> str:
    """What the first bytes of a file look like, in words."""
    if not head:
        return "an empty file"
    if b"%PDF" in head[:1024]:
        return "a PDF"
    for magic, name in (
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"II*\x00", "a TIFF image"),
        (b"MM\x00*", "a TIFF image"),
        (b"BM", "a BMP image"),
        (b"GIF8", "a GIF image"),
        (_ZIP, "a ZIP archive"),
        (_OLE, "an OLE2 (old Office) file"),
        (b"{\\rtf", "an RTF document"),
    ):
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if b"\x00" in head:
        return "binary data"
    return "text"


def _matches(kind: str, suffix: str, what: str) -> bool:
    if kind == "pdf":
        return what == "a PDF"
    if kind == "image":
        expected = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WebP"}
        return what == f"a {expected.get(suffix, suffix[1:].upper())} image"
    if kind in ("text", "html") or suffix == ".csv":
        return what == "text"
    if kind == "epub" or suffix in {".pptx", ".docx", ".odp", ".odt", ".key", ".xlsx", ".ods"}:
        return what == "a ZIP archive"
    if suffix == ".xls":  # web exports save HTML, XML or tab-separated text as .xls too
        return what in {"an OLE2 (old Office) file", "text"}
    if suffix in {".ppt", ".doc"}:
        return what in {"an OLE2 (old Office) file", "an RTF document"}
    return what == "an RTF document"


def sniff(path: Path, kind: str) -> None:
    """Check that ``path`` holds what its suffix says.

    Raises:
        UnreadableDocument: the file is empty or cannot be read.
        UnsupportedFormat: the content is of another type than the suffix says.
    """
    name = display(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD)
    except OSError as exc:
        raise UnreadableDocument(name, f"cannot read: {exc.strerror or exc}") from exc
    if not head:
        raise UnreadableDocument(name, "empty file (0 bytes)")
    what = describe(head)
    suffix = path.suffix.lower()
    if kind == "text" and what == "text":
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a cut multi-byte character at the end is fine
                return  # not UTF-8 but no NUL bytes: read later as Latin-1
    if not _matches(kind, suffix, what):
        raise UnsupportedFormat(name, f"content is {what}, not what its suffix {suffix} says")


def hash_file(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 hex digest of the file's bytes (a document's identity).

    Raises:
        UnreadableDocument: the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    except OSError as exc:
        raise UnreadableDocument(display(path), f"cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


class _Walker:
    def __init__(self, exclude: Iterable[Path]) -> None:
        self.exclude = {_identity(p) for p in exclude if p.exists()}
        self.entered: set[tuple[int, int]] = set()
        self.files: list[FoundFile] = []
        self.skipped: list[FileProblem] = []
        self.failed: list[FileProblem] = []

    def add_file(self, path: Path, source: str, st: os.stat_result) -> None:
        name = display(path)
        if not stat.S_ISREG(st.st_mode):
            self.skipped.append(FileProblem(name, "not a regular file"))
            return
        kind = kind_of(path.suffix)
        if kind is None:
            what = path.suffix.lower() or "no suffix"
            self.skipped.append(FileProblem(name, f"unsupported file type ({what})"))
            return
        try:
            sniff(path, kind)
        except UnsupportedFormat as exc:
            self.failed.append(FileProblem(name, exc.reason))
            return
        except UnreadableDocument as exc:
            self.failed.append(FileProblem(name, exc.reason))
            return
        self.files.append(FoundFile(path, source, kind, st.st_size))

    def walk(self, root: Path, directory: Path, prefix: str) -> None:
        try:
            ident = _identity(directory)
        except OSError as exc:
            self.failed.append(FileProblem(display(directory), f"cannot open directory: {exc.strerror}"))
            return
        if ident in self.exclude:
            return
        if ident in self.entered:
            self.skipped.append(FileProblem(display(directory), "symlink loop (directory already scanned)"))
            return
        self.entered.add(ident)
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            self.failed.append(FileProblem(display(directory), f"cannot list directory: {exc.strerror}"))
            return
        for entry in entries:
            if entry.name.startswith((".", "~$")):
                continue
            path = directory / entry.name
            source = f"{prefix}{display(entry.name)}"
            try:
                st = os.stat(path)
            except OSError as exc:
                reason = "symlink loop" if exc.errno == 40 else f"broken or unreadable link: {exc.strerror}"
                self.skipped.append(FileProblem(display(path), reason))
                continue
            if stat.S_ISDIR(st.st_mode):
                self.walk(root, path, f"{source}/")
            else:
                self.add_file(path, source, st)


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _common_folder(paths: Sequence[Path]) -> Path:
    """The deepest folder holding all of ``paths`` (for a file: its folder)."""
    folders = [p if p.is_dir() else p.parent for p in paths]
    return Path(os.path.commonpath(folders))


def _prefix(folder: Path, base: Path | None) -> str:
    """The source prefix of a root ``folder``: its path below ``base`` (``""`` for one root)."""
    if base is None or folder == base:
        return ""
    return display(folder.relative_to(base)) + "/"


def scan_paths(paths: Sequence[Path], *, exclude: Iterable[Path] = ()) -> ScanResult:
    """Walk ``paths`` (files or directories) and sort what is found into ingestible and not.

    A directory's files get sources relative to it; a file given directly is its own
    root (its source is its name). With several paths, sources are relative to the
    folder that holds them all (``colA/report.pdf``, ``colB/report.pdf``), so two files
    of the same name never share a source. ``exclude`` names directories never to enter
    (the index directory).

    Example:
        >>> result = scan_paths([Path("sample_docs")])  # doctest: +SKIP
        >>> [f.source for f in result.files]  # doctest: +SKIP
        ['report.pdf', 'slides/deck.pptx']
    """
    walker = _Walker(exclude)
    roots: list[Path] = []
    absolute = [Path(os.path.abspath(given)) for given in paths]
    base = _common_folder(absolute) if len(absolute) > 1 else None
    for path in absolute:
        roots.append(path)
        try:
            st = os.stat(path)
        except OSError as exc:
            reason = "symlink loop" if exc.errno == 40 else (exc.strerror or str(exc)).lower()
            walker.failed.append(FileProblem(display(path), reason))
            continue
        if stat.S_ISDIR(st.st_mode):
            walker.walk(path, path, _prefix(path, base))
        else:
            walker.add_file(path, _prefix(path.parent, base) + display(path.name), st)
    return ScanResult(tuple(walker.files), tuple(walker.skipped), tuple(walker.failed), tuple(roots))
