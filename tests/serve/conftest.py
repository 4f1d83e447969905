"""Real `pagerag serve` processes on loopback over real indexes (the packaged CPU models)."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DEMO_QUESTION = "What was the total revenue in 2023 according to the chart in the quarterly report?"


def _die_with_parent() -> None:
    """The child gets SIGTERM when the test process dies, however it dies (Linux)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def pagerag(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the ``pagerag`` command line in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "pagerag.pipelines", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        preexec_fn=_die_with_parent,
    )


@dataclass
class Server:
    """A running ``pagerag serve``."""

    url: str
    index: Path
    process: subprocess.Popen[str]
    log: list[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    index: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Server:
    """Start ``pagerag serve`` on a free loopback port; returns once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pagerag.pipelines", "serve", "--index", str(index), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        preexec_fn=_die_with_parent,
    )
    assert process.stdout is not None
    log: list[str] = []
    timer = threading.Timer(180, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            log.append(line)
            if line.startswith("pagerag: serving "):
                url = line.split(" at ", 1)[1].split()[0]
                break
        else:
            raise AssertionError("pagerag serve did not start:\n" + "".join(log))
    finally:
        timer.cancel()
    threading.Thread(target=lambda: log.extend(process.stdout or ()), daemon=True).start()
    return Server(url, index, process, log)


@pytest.fixture(scope="module")
def served(sample_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server over a copy of the sample index; its ingest root is a folder of its own."""
    home = tmp_path_factory.mktemp("served")
    index = home / "index"
    shutil.copytree(sample_index, index)
    root = home / "root"
    root.mkdir()
    server = start_server(index, "--ingest-root", str(root), cwd=home)
    yield server
    server.stop()
