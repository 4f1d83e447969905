"""The command line as a new user meets it: sources that tell files apart, clear words, usage exits 2."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest

from pagerag.pipelines import cli


def _pdf(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text)
    doc.save(path)
    return path


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pagerag.pipelines", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_same_name_in_two_folders_gets_two_sources_and_remove_asks_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _pdf(tmp_path / "colA" / "report.pdf", "Alpha report: the turbine ran 400 hours.")
    _pdf(tmp_path / "colB" / "report.pdf", "Beta report: the pump ran 90 hours.")
    index = str(tmp_path / "index")
    assert (
        cli.main(["ingest", str(tmp_path / "colA"), str(tmp_path / "colB"), "--index", index, "--quiet"]) == 0
    )
    capsys.readouterr()
    assert cli.main(["list", "--index", index]) == 0
    listed = capsys.readouterr().out
    assert "colA/report.pdf" in listed and "colB/report.pdf" in listed
    assert (
        cli.main(["search", "pump hours", "--index", index, "-k", "1", "--filter", "source=colB/report.pdf"])
        == 0
    )
    assert "colB/report.pdf" in capsys.readouterr().out
    assert cli.main(["remove", "report.pdf", "--index", index]) == 1
    err = capsys.readouterr().err
    assert "documents of that name: colA/report.pdf, colB/report.pdf" in err
    assert cli.main(["remove", "colA/report.pdf", "--index", index]) == 0
    capsys.readouterr()
    assert cli.main(["list", "--index", index]) == 0
    assert "colA/report.pdf" not in capsys.readouterr().out


def test_nothing_to_ingest_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.xyz").write_text("hello")
    index = str(tmp_path / "index")
    assert cli.main(["ingest", str(tmp_path / "empty"), "--index", index]) == 0
    assert "no document pagerag reads in" in capsys.readouterr().err
    assert cli.main(["ingest", str(tmp_path / "notes.xyz"), "--index", index]) == 1
    out, err = capsys.readouterr()
    assert "unsupported file type (.xyz)" in out and "no document pagerag reads" in err
    docs = tmp_path / "docs"
    _pdf(docs / "a.pdf", "text")
    assert cli.main(["ingest", str(docs), "--index", str(docs)]) == 2
    assert "is the index directory itself" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["ask", "  "], "the question is empty"),
        (["search", ""], "the query is empty"),
        (["search", "q", "-k", "0"], "k must be between 1 and 100"),
        (["ask", "q", "-k", "0"], "-k must be between 1 and 100"),
        (["search", "q", "--filter", "page=5-2"], "the range is empty"),
        (["search", "q", "--filter", "colour=red"], "unknown filter field 'colour': use source, doc"),
        (["ask", "q", "--filter", "page"], "expected key=value"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*argv, "--index", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_list_of_a_missing_index_fails_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list", "--index", str(tmp_path / "missing")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "no index at" in err


def test_version_help_and_a_closed_pipe() -> None:
    version = _run("--version")
    assert version.returncode == 0 and version.stdout.startswith("pagerag ")
    helps = _run("--help").stdout
    for command in ("ingest", "list", "remove", "search", "ask", "chat", "serve", "mcp", "eval", "models"):
        assert command in helps
        assert _run(command, "--help").stdout.count("\n") > 3
    piped = subprocess.run(
        f"{sys.executable} -m pagerag.pipelines models --json | head -c 1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.stdout == "[" and "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_sigterm_says_terminated(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(Path(__file__).parents[1] / "sample_docs", docs)
    child = subprocess.Popen(
        [sys.executable, "-m", "pagerag.pipelines", "ingest", str(docs), "--index", str(tmp_path / "index")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)  # imports done, models loading or pages being read
    child.send_signal(signal.SIGTERM)
    _out, err = child.communicate(timeout=120)
    assert child.returncode == 143, err
    assert err.rstrip().endswith("pagerag: terminated") and "Traceback" not in err
    assert "leaked semaphore" not in err


def test_chat_at_a_terminal_edits_lines_and_ends_on_ctrl_d(sample_index: Path, tmp_path: Path) -> None:
    import pty

    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    main, child_end = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "pagerag.pipelines", "chat", "--index", str(index), "-k", "1"],
        stdin=child_end,
        stdout=child_end,
        stderr=child_end,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    os.close(child_end)
    seen = b""

    def read_until(done: Callable[[bytes], bool], seconds: float = 120) -> None:
        nonlocal seen
        deadline = time.monotonic() + seconds
        while not done(seen) and time.monotonic() < deadline:
            seen += os.read(main, 4096)

    read_until(lambda out: out.count(b"> ") >= 1)
    os.write(main, b"total revenue 202\x1b[D\x1b[C3\r")  # left arrow, right arrow, then one more digit
    read_until(lambda out: b"Sources:" in out and out.count(b"> ") >= 2)
    os.write(main, b"\r")  # an empty line does not end the chat: the prompt comes again
    read_until(lambda out: out.count(b"> ") >= 3)
    os.write(main, b"\x04")  # Ctrl-D at the prompt does
    assert child.wait(60) == 0
    os.close(main)
    text = seen.decode(errors="replace")
    assert "^[[D" not in text and "Sources:" in text
    assert (tmp_path / ".pagerag_history").read_text().strip().endswith("total revenue 2023")


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_workers_end_when_ingest_is_killed(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(Path(__file__).parents[1] / "sample_docs", docs)
    book = pymupdf.open()
    for n in range(400):
        book.new_page().insert_text((72, 72), f"Chapter {n}: the long book keeps the workers busy.")
    book.save(docs / "long_book.pdf")
    child = subprocess.Popen(
        [sys.executable, "-m", "pagerag.pipelines", "ingest", str(docs), "--index", str(tmp_path / "index")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers := _descendants(child.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)  # the forkserver, its workers and the resource tracker
        assert len(workers) >= 3, f"no worker pool seen: {workers}"
        time.sleep(1)
        workers = _descendants(child.pid)
        child.kill()
        child.wait(timeout=30)
        deadline = time.monotonic() + 20
        while (alive := {p for p in workers if _running(p)}) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive, f"processes outlived `pagerag ingest`: {alive}"
    finally:
        for pid in workers | _descendants(child.pid) | {child.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_naming_one_model_on_an_index_built_with_an_older_default_checks_that_role_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _pdf(tmp_path / "docs" / "ferry.pdf", "The harbour ferry leaves at 07:40 every weekday.")
    index = str(tmp_path / "index")
    assert cli.main(["ingest", str(tmp_path / "docs"), "--index", index, "--sparse", "bm25", "--quiet"]) == 0
    _pdf(tmp_path / "docs" / "bus.pdf", "The night bus stops at the harbour at 23:10.")
    # The other roles are not filled with today's defaults (bm25-bigrams would be "built with other models").
    docs = str(tmp_path / "docs")
    assert cli.main(["ingest", docs, "--index", index, "--multi", "minilm-tokens", "--quiet"]) == 0
    assert cli.main(["ingest", docs, "--index", index, "--sparse", "bm25-bigrams", "--quiet"]) == 1
    assert "built with models" in capsys.readouterr().err
