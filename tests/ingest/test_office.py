"""LibreOffice conversion: page N is slide N (hidden slides kept), text documents, and every way it fails.

The real LibreOffice runs twice per session (a deck and an RTF file, converted at the same time
to prove that parallel conversions do not collide); the hang and crash cases use small fake
``soffice`` scripts, so they are fast and deterministic.
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymupdf
import pytest
from pptx import Presentation
from pptx.util import Inches

from pagerag.ingest.errors import (
    ConversionFailed,
    ConverterMissing,
    EncryptedDocument,
    UnreadableDocument,
    UnsupportedFormat,
)
from pagerag.ingest.formats.office import OFFICE_SUFFIXES, check_signature, convert_to_pdf, find_soffice
from pagerag.ingest.formats.slides import slide_texts

needs_soffice = pytest.mark.skipif(find_soffice() is None, reason="LibreOffice (soffice) is not installed")

HIDDEN = 2
SLIDES = 4


def _marker(n: int) -> str:
    return f"Slide{n}Marker"


def _make_deck(path: Path) -> Path:
    prs = Presentation()
    for n in range(1, SLIDES + 1):
        slide = prs.slides.add_slide(prs.slide_layouts[5])
        slide.shapes.title.text = _marker(n)
        slide.shapes.add_textbox(Inches(1), Inches(3), Inches(6), Inches(1)).text_frame.text = f"body {n}"
        if n == HIDDEN:
            slide._element.set("show", "0")
    prs.save(str(path))
    return path


def _make_rtf(path: Path) -> Path:
    path.write_text(
        r"{\rtf1\ansi{\fonttbl{\f0 Helvetica;}}\f0\fs24 "
        r"Writer page one: RtfMarker.\page Writer page two.\par}",
        encoding="ascii",
    )
    return path


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A deck (slide 2 hidden, an awkward file name) and an RTF file, converted concurrently."""
    src = tmp_path_factory.mktemp("office-src")
    out = tmp_path_factory.mktemp("office-out")
    deck = _make_deck(src / "-Präsentation Q3 (final).pptx")
    rtf = _make_rtf(src / "memo.rtf")
    if find_soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    with ThreadPoolExecutor(max_workers=2) as pool:
        deck_pdf, rtf_pdf = pool.map(lambda p: convert_to_pdf(p, out), [deck, rtf])
    return {"deck": deck, "deck_pdf": deck_pdf, "rtf_pdf": rtf_pdf}


@needs_soffice
def test_hidden_slide_keeps_its_page(converted: dict[str, Path]) -> None:
    slides = slide_texts(converted["deck"])
    assert [s.hidden for s in slides] == [n == HIDDEN for n in range(1, SLIDES + 1)]
    with pymupdf.open(converted["deck_pdf"]) as pdf:
        assert pdf.page_count == len(slides) == SLIDES
        for n, page in enumerate(pdf, start=1):
            text = page.get_text()
            assert _marker(n) in text, f"page {n} is not slide {n}: {text!r}"
            assert slides[n - 1].text.splitlines()[0] in text


@needs_soffice
def test_output_named_after_the_source(converted: dict[str, Path]) -> None:
    assert converted["deck_pdf"].name == "-Präsentation Q3 (final).pdf"
    assert converted["rtf_pdf"].name == "memo.pdf"
    assert sorted(p.name for p in converted["deck_pdf"].parent.iterdir()) == [
        "-Präsentation Q3 (final).pdf",
        "memo.pdf",
    ]


@needs_soffice
def test_text_document_through_writer(converted: dict[str, Path]) -> None:
    with pymupdf.open(converted["rtf_pdf"]) as pdf:
        assert pdf.page_count == 2
        assert "RtfMarker" in pdf[0].get_text()
        assert "page two" in pdf[1].get_text()


@needs_soffice
def test_real_timeout_leaves_no_libreoffice_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))
    deck = _make_deck(tmp_path / "deck.pptx")
    started = time.monotonic()
    with pytest.raises(ConversionFailed, match=r"deck\.pptx: LibreOffice timed out after 0\.3 s"):
        convert_to_pdf(deck, tmp_path, timeout=0.3)
    assert time.monotonic() - started < 10
    assert list(work.iterdir()) == [], "the private profile and copy are removed"
    assert _processes_mentioning(str(work)) == []
    assert not (tmp_path / "deck.pdf").exists()


def _processes_mentioning(needle: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if needle.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


# --- fake soffice scripts: hang, crash, fail, no output -------------------------------------


def _fake_soffice(tmp_path: Path, body: str, name: str = "soffice") -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    script = bindir / name
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def _zip_like(tmp_path: Path, name: str = "deck.pptx") -> Path:
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04" + bytes(60))
    return path


# The next-to-last argument is the --outdir value: write the "converted" file there.
_WRITE_OUTPUT = 'eval "dir=\\${{$(($#-1))}}"\nprintf "{content}" > "$dir/input.pdf"'


def _gone(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_hang_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = _fake_soffice(tmp_path, f"sleep 60 &\necho $! > '{pidfile}'\nsleep 60")
    started = time.monotonic()
    with pytest.raises(ConversionFailed, match=r"deck\.pptx: LibreOffice timed out after 0\.5 s"):
        convert_to_pdf(_zip_like(tmp_path), tmp_path, timeout=0.5, soffice=script)
    assert time.monotonic() - started < 5
    assert _gone(int(pidfile.read_text())), "a helper of the killed converter is still running"


def test_crash_names_the_signal(tmp_path: Path) -> None:
    script = _fake_soffice(tmp_path, "echo 'soffice.bin: fatal error' >&2\nkill -SEGV $$")
    with pytest.raises(ConversionFailed, match=r"deck\.pptx: LibreOffice crashed \(SIGSEGV\)") as info:
        convert_to_pdf(_zip_like(tmp_path), tmp_path, soffice=script)
    assert "fatal error" in info.value.reason
    assert isinstance(info.value, UnreadableDocument)


def test_non_zero_exit_carries_the_message(tmp_path: Path) -> None:
    script = _fake_soffice(
        tmp_path, "echo 'Warning: failed to launch javaldx'\necho 'out of memory' >&2\nexit 3"
    )
    with pytest.raises(ConversionFailed, match="exited with status 3: out of memory"):
        convert_to_pdf(_zip_like(tmp_path), tmp_path, soffice=script)


def test_success_without_pdf(tmp_path: Path) -> None:
    script = _fake_soffice(tmp_path, "echo 'Error: source file could not be loaded'")
    with pytest.raises(ConversionFailed, match="wrote no PDF: Error: source file could not be loaded"):
        convert_to_pdf(_zip_like(tmp_path), tmp_path, soffice=script)


def test_output_that_is_not_a_pdf(tmp_path: Path) -> None:
    script = _fake_soffice(tmp_path, _WRITE_OUTPUT.format(content="junk"))
    with pytest.raises(ConversionFailed, match="wrote no PDF"):
        convert_to_pdf(_zip_like(tmp_path), tmp_path, soffice=script)
    assert not (tmp_path / "deck.pdf").exists()


def test_fake_on_path_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = _fake_soffice(tmp_path, "exit 7")
    monkeypatch.setenv("PATH", str(script.parent))
    assert find_soffice() == str(script)
    with pytest.raises(ConversionFailed, match="status 7"):
        convert_to_pdf(_zip_like(tmp_path), tmp_path)


def test_missing_libreoffice_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr("pagerag.ingest.formats.office._MACOS_SOFFICE", tmp_path / "nope")
    with pytest.raises(
        ConverterMissing, match=r"deck\.pptx: LibreOffice \(soffice\) is not installed.*apt-get"
    ):
        convert_to_pdf(_zip_like(tmp_path), tmp_path)


def test_binary_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(ConversionFailed, match="cannot start LibreOffice"):
        convert_to_pdf(_zip_like(tmp_path), tmp_path, soffice=tmp_path / "no-such-soffice")


# --- content checks before LibreOffice sees the file -----------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "error", "reason"),
    [
        ("empty.docx", b"", UnreadableDocument, "empty file"),
        ("random.pptx", b"\x89\x13garbage" * 8, UnsupportedFormat, "no zip signature"),
        ("text.odt", b"just text", UnsupportedFormat, "no zip signature"),
        ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), EncryptedDocument, "password"),
        ("zip.ppt", b"PK\x03\x04" + bytes(60), UnsupportedFormat, "no OLE2 signature"),
        ("plain.rtf", b"hello", UnsupportedFormat, "rtf"),
        ("binary.doc", b"\x00\x01\x02garbage", UnsupportedFormat, "not a Word .doc"),
    ],
)
def test_content_must_fit_the_suffix(
    tmp_path: Path, name: str, content: bytes, error: type[Exception], reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error, match=reason) as info:
        # A fake that would "succeed" proves LibreOffice is never started for these.
        convert_to_pdf(path, tmp_path, soffice=tmp_path / "never-run")
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("word.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
        ("html-saved-as.doc", b"\xef\xbb\xbf  <html><body>hi</body></html>"),
        ("rtf-saved-as.doc", b"{\\rtf1 hi}"),
        ("deck.key", b"PK\x03\x04"),
        ("UPPER.PPTX", b"PK\x03\x04"),
    ],
)
def test_real_world_variants_pass_the_check(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    check_signature(path)


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(ConversionFailed, match=r"sheet\.xlsx: not an office document suffix"):
        convert_to_pdf(path, tmp_path)
    assert ".xlsx" not in OFFICE_SUFFIXES


def test_directory_named_like_a_deck(tmp_path: Path) -> None:
    bundle = tmp_path / "Old.key"
    bundle.mkdir()
    with pytest.raises(UnreadableDocument, match="is a directory"):
        convert_to_pdf(bundle, tmp_path)


def test_unwritable_out_dir(tmp_path: Path) -> None:
    script = _fake_soffice(tmp_path, _WRITE_OUTPUT.format(content="%%PDF-1.4\\n"))
    with pytest.raises(ConversionFailed, match="cannot write"):
        convert_to_pdf(_zip_like(tmp_path), tmp_path / "missing-dir", soffice=script)


def test_fake_success_moves_the_pdf(tmp_path: Path) -> None:
    script = _fake_soffice(tmp_path, _WRITE_OUTPUT.format(content="%%PDF-1.4\\n"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "deck.pdf").write_bytes(b"old")
    result = convert_to_pdf(_zip_like(tmp_path), out, soffice=script)
    assert result == out / "deck.pdf"
    assert result.read_bytes().startswith(b"%PDF-1.4")


# --- more faults: interrupted, lingering helpers, odd names, unreadable sources ----------------


@needs_soffice
def test_source_left_untouched(converted: dict[str, Path]) -> None:
    deck = converted["deck"]
    assert sorted(p.name for p in deck.parent.iterdir()) == [deck.name, "memo.rtf"], "no lock or temp files"
    assert slide_texts(deck)[0].text.startswith(_marker(1))


@needs_soffice
def test_truncated_deck_with_real_libreoffice(tmp_path: Path) -> None:
    whole = _make_deck(tmp_path / "whole.pptx").read_bytes()
    cut = tmp_path / "cut.pptx"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ConversionFailed, match=r"cut\.pptx: LibreOffice wrote no PDF"):
        convert_to_pdf(cut, tmp_path, timeout=60)
    assert not (tmp_path / "cut.pdf").exists()


class _Interrupted(Exception):
    pass


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_interrupt_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = _fake_soffice(tmp_path, f"sleep 60 &\necho $! > '{pidfile}'\nsleep 60")

    def interrupt(signum: int, frame: object) -> None:
        raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(_Interrupted):
            convert_to_pdf(_zip_like(tmp_path), tmp_path, timeout=30, soffice=script)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert _gone(int(pidfile.read_text())), "an interrupted conversion left its helper running"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_helpers_do_not_outlive_a_successful_conversion(tmp_path: Path) -> None:
    pidfile = tmp_path / "helper.pid"
    body = f"sleep 60 &\necho $! > '{pidfile}'\n" + _WRITE_OUTPUT.format(content="%%PDF-1.4\\n")
    script = _fake_soffice(tmp_path, body)
    assert convert_to_pdf(_zip_like(tmp_path), tmp_path, soffice=script).is_file()
    assert _gone(int(pidfile.read_text()))


def test_converter_ignoring_sigterm_is_still_stopped(tmp_path: Path) -> None:
    script = _fake_soffice(tmp_path, "trap '' TERM INT HUP\nsleep 60")
    started = time.monotonic()
    with pytest.raises(ConversionFailed, match="timed out"):
        convert_to_pdf(_zip_like(tmp_path), tmp_path, timeout=0.3, soffice=script)
    assert time.monotonic() - started < 5


def test_no_private_profile_left_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "tmp"
    work.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(work))
    ok = _fake_soffice(tmp_path, _WRITE_OUTPUT.format(content="%%PDF-1.4\\n"), name="ok")
    crash = _fake_soffice(tmp_path, "kill -ABRT $$", name="crash")
    convert_to_pdf(_zip_like(tmp_path), tmp_path, soffice=ok)
    with pytest.raises(ConversionFailed, match="SIGABRT"):
        convert_to_pdf(_zip_like(tmp_path), tmp_path, soffice=crash)
    assert list(work.iterdir()) == []


def test_each_call_gets_its_own_profile(tmp_path: Path) -> None:
    log = tmp_path / "profiles.txt"
    body = f"echo \"$1\" >> '{log}'\n" + _WRITE_OUTPUT.format(content="%%PDF-1.4\\n")
    script = _fake_soffice(tmp_path, body)
    for _ in range(2):
        convert_to_pdf(_zip_like(tmp_path), tmp_path, soffice=script)
    first, second = log.read_text().splitlines()
    assert first.startswith("-env:UserInstallation=file:///")
    assert first != second


@pytest.mark.parametrize(
    "stem",
    [
        os.fsdecode(b"Pr\xe4sentation-latin1"),  # not valid UTF-8
        "x" * 250,  # the longest name most file systems allow, with ".pptx"
        "--help",  # looks like an option
        "deck with spaces & $(quotes)'\"",
    ],
    ids=["non-utf8", "long", "dash", "shell-chars"],
)
def test_awkward_names(tmp_path: Path, stem: str) -> None:
    script = _fake_soffice(tmp_path, _WRITE_OUTPUT.format(content="%%PDF-1.4\\n"))
    out = tmp_path / "out"
    out.mkdir()
    source = _zip_like(tmp_path, stem + ".pptx")
    assert convert_to_pdf(source, out, soffice=script) == out / f"{stem}.pdf"


def test_non_utf8_name_in_a_printable_message(tmp_path: Path) -> None:
    path = tmp_path / os.fsdecode(b"bad-\xff.pptx")
    path.write_bytes(b"")
    with pytest.raises(UnreadableDocument) as info:
        convert_to_pdf(path, tmp_path)
    message = str(info.value)
    message.encode("utf-8")  # no lone surrogates: the message can be printed and stored as JSON
    assert "bad-\\xff.pptx: empty file" in message


def test_broken_symlink(tmp_path: Path) -> None:
    link = tmp_path / "gone.pptx"
    link.symlink_to(tmp_path / "nowhere.pptx")
    with pytest.raises(UnreadableDocument, match=r"gone\.pptx: cannot read the file: No such file"):
        convert_to_pdf(link, tmp_path)


def test_symlink_to_a_deck_is_followed(tmp_path: Path) -> None:
    script = _fake_soffice(tmp_path, _WRITE_OUTPUT.format(content="%%PDF-1.4\\n"))
    target = _zip_like(tmp_path, "real.pptx")
    link = tmp_path / "alias.pptx"
    link.symlink_to(target)
    assert convert_to_pdf(link, tmp_path, soffice=script).name == "alias.pdf"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_permissions(tmp_path: Path) -> None:
    path = _zip_like(tmp_path, "locked.pptx")
    path.chmod(0)
    try:
        with pytest.raises(UnreadableDocument, match="Permission denied"):
            convert_to_pdf(path, tmp_path)
    finally:
        path.chmod(0o644)


def test_every_failure_is_a_document_error(tmp_path: Path) -> None:
    """The pipeline catches DocumentError per file: no converter fault may escape as anything else."""
    from pagerag.ingest.errors import DocumentError

    scripts = {
        "hang": ("sleep 60", 0.3),
        "crash": ("kill -SEGV $$", 30.0),
        "fail": ("exit 1", 30.0),
        "silent": ("exit 0", 30.0),
    }
    for name, (body, timeout) in scripts.items():
        script = _fake_soffice(tmp_path, body, name=name)
        with pytest.raises(DocumentError) as info:
            convert_to_pdf(_zip_like(tmp_path), tmp_path, timeout=timeout, soffice=script)
        assert info.value.path.endswith("deck.pptx") and info.value.reason, name
