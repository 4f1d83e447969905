"""The progress display of an ingest run (rich, on stderr), or nothing when quiet."""

from __future__ import annotations

import time
from typing import Any


class Progress:
    """Files done out of files to do, the current file, pages and pages per second."""

    def __init__(self, total_files: int, *, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._pages = 0
        self._start = time.perf_counter()
        if not enabled or total_files == 0:
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
        if self._bar is not None:
            self._bar.update(self._task, description=name[-60:])

    def pages(self, n: int) -> None:
        """``n`` more pages are done."""
        self._pages += n
        if self._bar is not None:
            rate = self._pages / max(time.perf_counter() - self._start, 1e-6)
            self._bar.update(self._task, pages=self._pages, rate=rate)

    def file_done(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description="")
            self._bar.stop()
            self._bar = None
