"""Spreadsheets (.xlsx, .xls, .ods, .csv) to PDF with LibreOffice Calc: page N is page N as it prints.

Calc prints every sheet in order, each cut into pages by its page style (print ranges,
scaling, headers and footers as the workbook sets them). A CSV file is opened with the
separator and charset it uses (sniffed here, since Calc's defaults are comma and a locale
charset) and gets LibreOffice's default page style: the sheet name above, "Page N" below.
"""

from __future__ import annotations

import csv
import os
import re
import zipfile
from pathlib import Path

from pagerag.ingest.errors import ConverterMissing, EncryptedDocument, UnreadableDocument, UnsupportedFormat
from pagerag.ingest.formats.office import find_soffice, soffice_to_pdf
from pagerag.ingest.scan import SHEET_SUFFIXES, display

__all__ = ["SHEET_SUFFIXES", "check_sheet", "convert_sheet_to_pdf", "csv_import_filter"]

_CALC_FILTER = "pdf:calc_pdf_Export"
_CALC_HINT = (
    "LibreOffice Calc is not installed; install it, e.g. `apt-get install libreoffice-calc` "
    "(macOS: `brew install --cask libreoffice`)"
)
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PACKAGE_PART = {".xlsx": "[Content_Types].xml", ".ods": "content.xml"}
_UTF8, _WINDOWS_1252 = 76, 1  # LibreOffice's numbers for the charsets (rtl_TextEncoding)
_SAMPLE = 64 * 1024


def convert_sheet_to_pdf(
    path: Path, out_dir: Path, *, timeout: float = 120, soffice: str | Path | None = None
) -> Path:
    """Convert a spreadsheet or CSV file to ``out_dir/<stem>.pdf`` with LibreOffice Calc.

    Raises:
        UnreadableDocument: the file is empty, blank, corrupt or cannot be read.
        UnsupportedFormat: the content is not what the suffix says.
        EncryptedDocument: a password-protected workbook.
        ConverterMissing: LibreOffice (or its Calc module) is not installed.
        ConversionFailed: the suffix is not a spreadsheet's, or LibreOffice failed.

    Example:
        >>> convert_sheet_to_pdf(Path("tides.xlsx"), Path("/tmp/out")).name  # doctest: +SKIP
        'tides.pdf'
    """
    suffix = path.suffix.lower()
    if suffix not in SHEET_SUFFIXES:
        raise UnsupportedFormat(display(path), f"not a spreadsheet suffix: {path.suffix!r}")
    check_sheet(path)
    binary = str(soffice) if soffice is not None else find_soffice()
    if binary is not None and not _has_calc(binary):
        raise ConverterMissing(display(path), _CALC_HINT)
    return soffice_to_pdf(
        path,
        out_dir,
        _CALC_FILTER,
        timeout=timeout,
        soffice=binary,
        import_filter=csv_import_filter(path) if suffix == ".csv" else None,
        work_name=_sheet_name(path.stem),
        install_hint=_CALC_HINT,
    )


def check_sheet(path: Path) -> None:
    """Refuse what LibreOffice would turn into pages of garbage or nothing, with a one-line reason.

    Raises:
        UnreadableDocument: empty, blank (a CSV without a value) or a broken ZIP package.
        EncryptedDocument: a password-protected .xlsx (an encrypted OLE2 wrapper).
        UnsupportedFormat: the first bytes do not fit the suffix.

    Example:
        >>> check_sheet(Path("empty.csv"))  # doctest: +SKIP
        Traceback (most recent call last):
        UnreadableDocument: empty.csv: empty file (0 bytes)
    """
    suffix, name = path.suffix.lower(), display(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE)
    except OSError as exc:
        raise UnreadableDocument(name, f"cannot read the file: {exc.strerror or exc}") from exc
    if not head:
        raise UnreadableDocument(name, "empty file (0 bytes)")
    if suffix == ".csv":
        if not _decode(head).strip(" \t\r\n,;|\"'\ufeff"):
            raise UnreadableDocument(name, "no values in the CSV file")
        return
    if suffix == ".xls":
        if not head.startswith(_OLE2) and b"\x00" in head:
            raise UnsupportedFormat(name, "content is not an Excel .xls file (no OLE2 signature)")
        return
    if head.startswith(_OLE2) and suffix == ".xlsx":
        raise EncryptedDocument(name, "password-protected Excel file (encrypted package)")
    if not head.startswith(_ZIP):
        raise UnsupportedFormat(name, f"content is not a {suffix} file (no zip signature)")
    try:
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableDocument(name, f"corrupt {suffix} file (broken ZIP package: {exc})") from exc
    if _PACKAGE_PART[suffix] not in names:
        raise UnreadableDocument(name, f"corrupt {suffix} file (no {_PACKAGE_PART[suffix]} in the package)")


def csv_import_filter(path: Path) -> str:
    """LibreOffice's ``--infilter`` for a CSV file: its separator, ``"`` quotes, its charset, from line 1.

    Example:
        >>> csv_import_filter(Path("semicolons.csv"))  # doctest: +SKIP
        'CSV:59,34,76,1'
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE)
    except OSError:
        head = b""
    text = _decode(head)
    try:
        separator = csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
    except csv.Error:  # one column, or too little to tell
        separator = ","
    charset = _UTF8 if _is_utf8(head) else _WINDOWS_1252
    return f"CSV:{ord(separator)},34,{charset},1"


def _decode(head: bytes) -> str:
    return head.decode("utf-8-sig" if _is_utf8(head) else "cp1252", "replace")


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4  # a character cut at the end of the sample
    return True


def _sheet_name(stem: str) -> str:
    """The file's stem in the letters LibreOffice keeps (a CSV's sheet name, printed in its header)."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_")[:64]
    return name or "sheet"


def _has_calc(binary: str) -> bool:
    """False where a Linux LibreOffice ships Writer or Impress as modules but not Calc's (libsclo.so)."""
    program = Path(os.path.realpath(binary)).parent
    if (program / "libsclo.so").exists():
        return True
    return not any((program / f"{module}lo.so").exists() for module in ("libsw", "libsd"))
