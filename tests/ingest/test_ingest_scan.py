"""Walking folders: loops, odd names, odd files, suffixes that lie."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pagerag.ingest.scan import hash_file, scan_paths


def _reasons(problems: tuple[object, ...]) -> dict[str, str]:
    return {Path(p.path).name: p.reason for p in problems}  # type: ignore[attr-defined]


def test_walk_sorts_files_into_kinds_and_skips_what_it_cannot_read(
    tmp_path: Path, pdf_factory: Callable[..., Path]
) -> None:
    docs = tmp_path / "docs"
    pdf_factory("a.pdf")
    pdf_factory("sub/b.PDF")
    (docs / "notes.md").write_text("# Notes\n\nSome words here.", encoding="utf-8")
    (docs / "data.xyz").write_bytes(b"whatever")
    (docs / ".hidden.pdf").write_bytes(b"%PDF-1.4 hidden")
    (docs / "~$lock.docx").write_bytes(b"lock")
    result = scan_paths([docs])
    assert [(f.source, f.kind) for f in result.files] == [
        ("a.pdf", "pdf"),
        ("notes.md", "text"),
        ("sub/b.PDF", "pdf"),
    ]
    assert _reasons(result.skipped) == {"data.xyz": "unsupported file type (.xyz)"}
    assert not result.failed


def test_wrong_suffix_and_empty_files_fail_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "fake.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "photo.jpg").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    reasons = _reasons(scan_paths([tmp_path]).failed)
    assert reasons["fake.pdf"] == "content is a PNG image, not what its suffix .pdf says"
    assert reasons["empty.pdf"] == "empty file (0 bytes)"
    assert reasons["photo.jpg"] == "content is a PDF, not what its suffix .jpg says"
    assert reasons["binary.txt"] == "content is binary data, not what its suffix .txt says"


def test_symlink_loops_are_reported_not_followed_forever(
    tmp_path: Path, pdf_factory: Callable[..., Path]
) -> None:
    docs = tmp_path / "docs"
    pdf_factory("a.pdf")
    (docs / "loop").symlink_to(docs, target_is_directory=True)
    (docs / "self.pdf").symlink_to(docs / "self.pdf")
    (docs / "dangling.pdf").symlink_to(tmp_path / "nowhere.pdf")
    result = scan_paths([docs])
    assert [f.source for f in result.files] == ["a.pdf"]
    reasons = _reasons(result.skipped)
    assert reasons["loop"].startswith("symlink loop")
    assert reasons["self.pdf"] == "symlink loop"
    assert reasons["dangling.pdf"].startswith("broken or unreadable link")


def test_non_utf8_and_very_long_names(tmp_path: Path, pdf_factory: Callable[..., Path]) -> None:
    source = pdf_factory("x.pdf", folder=tmp_path / "src")
    raw = os.fsencode(tmp_path / "docs") + b"/caf\xe9.pdf"
    os.makedirs(os.path.dirname(raw), exist_ok=True)
    with open(raw, "wb") as fh:
        fh.write(source.read_bytes())
    long_name = "l" * 250 + ".pdf"  # 254 bytes: the longest name most file systems allow is 255
    (tmp_path / "docs" / long_name).write_bytes(source.read_bytes())
    result = scan_paths([tmp_path / "docs"])
    sources = sorted(f.source for f in result.files)
    assert sources == ["caf\\xe9.pdf", long_name]
    assert all(f.path.exists() for f in result.files)
    assert not result.failed


def test_a_fifo_is_skipped_instead_of_blocking_the_walk(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.pdf")
    result = scan_paths([tmp_path])
    assert _reasons(result.skipped) == {"pipe.pdf": "not a regular file"}


def test_the_index_directory_is_never_ingested(tmp_path: Path, pdf_factory: Callable[..., Path]) -> None:
    pdf_factory("a.pdf")
    index = tmp_path / "docs" / "myindex"
    index.mkdir()
    (index / "page.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    assert [f.source for f in scan_paths([tmp_path / "docs"], exclude=[index]).files] == ["a.pdf"]


def test_hash_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_bytes(b"abc")
    assert hash_file(tmp_path / "f.txt") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
