"""Slide decks and office documents to PDF with LibreOffice headless.

Each call runs its own ``soffice`` with a private, throw-away user profile (so parallel
conversions never hand their work to one another), in its own process group (so a timeout
kills LibreOffice and every helper it started), on a private copy of the input (so odd file
names, lock files and a source that changes mid-conversion cannot get in the way).

Presentations are exported with ``ExportHiddenSlides`` so that page N of the PDF is slide N of
the deck, hidden slides included.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from pagerag.ingest.errors import (
    ConversionFailed,
    ConverterMissing,
    EncryptedDocument,
    UnreadableDocument,
    UnsupportedFormat,
)
from pagerag.ingest.scan import OFFICE_SUFFIXES, SLIDE_SUFFIXES, display

PRESENTATION_SUFFIXES = SLIDE_SUFFIXES
"""Opened by LibreOffice Impress; exported slide for slide."""

TEXT_DOCUMENT_SUFFIXES = OFFICE_SUFFIXES - SLIDE_SUFFIXES
"""Opened by LibreOffice Writer."""

__all__ = [
    "OFFICE_SUFFIXES",
    "PRESENTATION_SUFFIXES",
    "TEXT_DOCUMENT_SUFFIXES",
    "check_signature",
    "convert_to_pdf",
    "display",
    "find_soffice",
    "soffice_to_pdf",
]

# JSON filter options need LibreOffice >= 7.4; older versions ignore them and skip hidden slides.
_IMPRESS_FILTER = 'pdf:impress_pdf_Export:{"ExportHiddenSlides":{"type":"boolean","value":"true"}}'
_WRITER_FILTER = "pdf:writer_pdf_Export"
_INSTALL_HINT = (
    "LibreOffice (soffice) is not installed or not on PATH; install it, e.g. "
    "`apt-get install libreoffice-impress libreoffice-writer` (macOS: `brew install --cask libreoffice`)"
)
_MACOS_SOFFICE = Path("/Applications/LibreOffice.app/Contents/MacOS/soffice")

_ZIP = b"PK\x03\x04"
_RUNNING: set[int] = set()  # process groups of the conversions running now (pids of their leaders)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_RTF = b"{\\rtf"
_ZIP_SUFFIXES = frozenset({".pptx", ".docx", ".odp", ".odt", ".key"})


def find_soffice() -> str | None:
    """Locate the LibreOffice binary.

    Returns:
        The path of ``soffice`` (or ``libreoffice``) on PATH, the macOS app bundle's binary,
        or None when LibreOffice is not installed.

    Example:
        >>> find_soffice()  # doctest: +SKIP
        '/usr/bin/soffice'
    """
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    return str(_MACOS_SOFFICE) if _MACOS_SOFFICE.is_file() else None


def convert_to_pdf(
    path: Path, out_dir: Path, *, timeout: float = 120, soffice: str | Path | None = None
) -> Path:
    """Convert a slide deck or office document to PDF with LibreOffice headless.

    Args:
        path: the input file; its suffix (case-insensitive) picks the export filter, one of
            :data:`OFFICE_SUFFIXES`.
        out_dir: an existing directory that receives ``<stem>.pdf`` (an existing file of that
            name is replaced).
        timeout: seconds before the conversion's whole process group is killed.
        soffice: the LibreOffice binary; None looks it up with :func:`find_soffice`.

    Returns:
        The path of the PDF in ``out_dir``. For a presentation, page N is slide N of the deck,
        hidden slides included.

    Raises:
        UnreadableDocument: the file is empty or cannot be read.
        UnsupportedFormat: the content is not what the suffix says (see :func:`check_signature`).
        EncryptedDocument: a password-protected OOXML file (LibreOffice cannot convert it unattended).
        ConverterMissing: LibreOffice is not installed (the message says how to install it).
        ConversionFailed: the suffix is not an office format, or LibreOffice timed out,
            crashed, exited non-zero or wrote no PDF; ``path`` and ``reason`` say which.

    Example:
        >>> pdf = convert_to_pdf(Path("deck.pptx"), Path("/tmp/out"))  # doctest: +SKIP
        >>> pdf.name  # doctest: +SKIP
        'deck.pdf'
    """
    suffix = path.suffix.lower()
    if suffix not in OFFICE_SUFFIXES:
        raise ConversionFailed(display(path), f"not an office document suffix: {path.suffix!r}")
    check_signature(path)
    export_filter = _IMPRESS_FILTER if suffix in PRESENTATION_SUFFIXES else _WRITER_FILTER
    return soffice_to_pdf(path, out_dir, export_filter, timeout=timeout, soffice=soffice)


def soffice_to_pdf(
    path: Path,
    out_dir: Path,
    export_filter: str,
    *,
    timeout: float = 120,
    soffice: str | Path | None = None,
    import_filter: str | None = None,
    work_name: str = "input",
    install_hint: str = _INSTALL_HINT,
) -> Path:
    """Run one LibreOffice headless conversion of ``path`` to ``out_dir/<stem>.pdf``.

    The converter behind :func:`convert_to_pdf` and the spreadsheet backend; it checks nothing
    about the input's content, which is the caller's job.

    Args:
        path: the input file.
        out_dir: an existing directory that receives ``<stem>.pdf``.
        export_filter: the ``--convert-to`` argument (``pdf:calc_pdf_Export``, ...).
        timeout: seconds before the conversion's whole process group is killed.
        soffice: the LibreOffice binary; None looks it up with :func:`find_soffice`.
        import_filter: an ``--infilter`` argument (CSV separators and charset), or None.
        work_name: the ASCII stem of the private copy LibreOffice opens (a sheet's name for CSV).
        install_hint: the reason given when LibreOffice is missing.

    Raises:
        ConverterMissing: LibreOffice is not installed.
        ConversionFailed: LibreOffice timed out, crashed, exited non-zero or wrote no PDF.

    Example:
        >>> soffice_to_pdf(Path("t.csv"), Path("/tmp/out"), "pdf:calc_pdf_Export")  # doctest: +SKIP
        PosixPath('/tmp/out/t.pdf')
    """
    suffix = path.suffix.lower()
    binary = str(soffice) if soffice is not None else find_soffice()
    if binary is None:
        raise ConverterMissing(display(path), install_hint)

    with tempfile.TemporaryDirectory(prefix="pagerag-soffice-") as tmp:
        work = Path(tmp)
        # A plain ASCII name: LibreOffice mangles some names (non-UTF-8 bytes, leading dashes).
        source = work / f"{work_name}{suffix}"
        try:
            shutil.copyfile(path, source)
        except OSError as exc:
            raise ConversionFailed(display(path), f"cannot read the file: {exc.strerror or exc}") from exc
        outdir = work / "out"
        outdir.mkdir()
        command = [
            binary,
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            *([f"--infilter={import_filter}"] if import_filter else []),
            "--convert-to",
            export_filter,
            "--outdir",
            str(outdir),
            str(source),
        ]
        log_path = work / "soffice.log"
        returncode = _run_in_own_group(command, log_path, timeout, path, work)
        log_tail = _last_line(log_path)
        if returncode < 0:
            raise ConversionFailed(
                display(path), f"LibreOffice crashed ({_signal_name(-returncode)}){_detail(log_tail)}"
            )
        if returncode > 0:
            raise ConversionFailed(
                display(path), f"LibreOffice exited with status {returncode}{_detail(log_tail)}"
            )
        produced = outdir / f"{work_name}.pdf"
        if not produced.is_file() or produced.stat().st_size == 0 or not _looks_like_pdf(produced):
            raise ConversionFailed(display(path), f"LibreOffice wrote no PDF{_detail(log_tail)}")
        target = out_dir / f"{path.stem}.pdf"
        try:
            shutil.move(produced, target)
        except OSError as exc:
            raise ConversionFailed(
                display(path), f"cannot write {display(target)}: {exc.strerror or exc}"
            ) from exc
        return target


def check_signature(path: Path) -> None:
    """Check that an office file's first bytes fit its suffix, before any converter sees it.

    LibreOffice converts almost anything (random bytes named ``.pptx`` become two pages of
    garbage), so a file whose content is not what its suffix says is refused here.

    Args:
        path: a file with one of :data:`OFFICE_SUFFIXES`.

    Raises:
        UnreadableDocument: the file is empty, a directory or cannot be read.
        EncryptedDocument: a .pptx/.docx that is a password-protected (OLE2-wrapped) file.
        UnsupportedFormat: the content does not match the suffix.

    Example:
        >>> check_signature(Path("deck.pptx"))  # doctest: +SKIP
    """
    suffix = path.suffix.lower()
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except IsADirectoryError as exc:
        raise UnreadableDocument(display(path), "is a directory (package bundles are not supported)") from exc
    except OSError as exc:
        raise UnreadableDocument(display(path), f"cannot read the file: {exc.strerror or exc}") from exc
    if not head:
        raise UnreadableDocument(display(path), "empty file (0 bytes)")
    if suffix in _ZIP_SUFFIXES:
        if head.startswith(_ZIP):
            return
        if head.startswith(_OLE2) and suffix in (".pptx", ".docx"):
            raise EncryptedDocument(display(path), "password-protected Office file (encrypted package)")
        raise UnsupportedFormat(display(path), f"content is not a {suffix} file (no zip signature)")
    if suffix == ".ppt" and not head.startswith(_OLE2):
        raise UnsupportedFormat(display(path), "content is not a .ppt file (no OLE2 signature)")
    if suffix == ".rtf" and not head.startswith(_RTF):
        raise UnsupportedFormat(display(path), "content is not an .rtf file (no {\\rtf header)")
    # Word saves HTML, XML and RTF under .doc too: only refuse what is none of those.
    if suffix == ".doc" and not (
        head.startswith((_OLE2, _RTF, _ZIP)) or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
    ):
        raise UnsupportedFormat(display(path), "content is not a Word .doc file (no OLE2/RTF/HTML signature)")


def _run_in_own_group(command: list[str], log_path: Path, timeout: float, path: Path, cwd: Path) -> int:
    """Run ``command`` as the leader of a new process group; kill the whole group on timeout."""
    with log_path.open("wb") as log:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise ConversionFailed(
                display(path), f"cannot start LibreOffice ({command[0]}): {exc.strerror or exc}"
            ) from exc
        _RUNNING.add(process.pid)
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.wait()
            raise ConversionFailed(display(path), f"LibreOffice timed out after {timeout:g} s") from None
        except BaseException:
            _kill_group(process.pid)
            process.wait()
            raise
        finally:
            _RUNNING.discard(process.pid)
        # Helpers that outlive soffice (oosplash, a forked soffice.bin) must not linger. Linux keeps
        # the group id reserved while any member lives, so this cannot hit an unrelated process.
        _kill_group(process.pid)
        return returncode


def kill_conversions() -> None:
    """Kill every LibreOffice process group this process has running (its parent is gone)."""
    for pgid in list(_RUNNING):
        _kill_group(pgid)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _looks_like_pdf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(1024).lstrip().startswith(b"%PDF-")


def _last_line(log_path: Path) -> str:
    try:
        lines = log_path.read_bytes().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    # LibreOffice's harmless start-up noise says nothing about the failure.
    useful = [line.strip() for line in lines if line.strip() and "javaldx" not in line]
    return useful[-1][:300] if useful else ""


def _detail(log_tail: str) -> str:
    return f": {log_tail}" if log_tail else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
