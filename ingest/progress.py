"""The progress display of an ingest run (rich, on stderr), or nothing when quiet."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """Where an ingest run stands: files done of those to (re-)index, the current file, pages, pages/s."""

    files_done: int
    files_total: int
    current: str
    pages: int
    pages_per_second: float


class Progress:
    """Files done out of files to do, the current file, pages and pages per second.

    ``enabled`` is True for a progress bar on stderr, or a function that gets an
    :class:`IngestProgress` at each change (a server's job status).
    """

    def __init__(self, total_files: int, *, enabled: bool | Callable[[IngestProgress], None]) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._pages = 0
        self._files_done = 0
        self._total = total_files
        self._current = ""
        self._start = time.perf_counter()
        self._listener = enabled if callable(enabled) else None
        self._tell()
        if enabled is not True or total_files == 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("[bold]ingest[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files  {task.fields[pages]} pages  {task.fields[rate]:.1f} pages/s"),
            TimeElapsedColumn(),
            TextColumn("{task.description}", style="dim"),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task("", total=total_files, pages=0, rate=0.0)
        self._bar.start()

    def current(self, name: str) -> None:
        """Show ``name`` as the file being worked on."""
        self._current = name
        self._tell()
        if self._bar is not None:
            self._bar.update(self._task, description=name[-60:])

    def pages(self, n: int) -> None:
        """``n`` more pages are done."""
        self._pages += n
        self._tell()
        if self._bar is not None:
            rate = self._pages / max(time.perf_counter() - self._start, 1e-6)
            self._bar.update(self._task, pages=self._pages, rate=rate)

    def file_done(self) -> None:
        self._files_done += 1
        self._tell()
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description="")
            self._bar.stop()
            self._bar = None

    def _tell(self) -> None:
        if self._listener is not None:
            rate = self._pages / max(time.perf_counter() - self._start, 1e-6)
            self._listener(IngestProgress(self._files_done, self._total, self._current, self._pages, rate))
