"""Ingestion jobs run by a server: one at a time, in a thread, while searches go on.

Example:
    >>> jobs = Jobs(rag)  # doctest: +SKIP
    >>> job = jobs.submit([Path("docs/report.pdf")], label="upload")  # doctest: +SKIP
    >>> jobs.get(job.id).state  # doctest: +SKIP
    'queued'
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import PageragError
from pagerag.ingest.progress import IngestProgress
from pagerag.ingest.types import IngestReport
from pagerag.pipelines.core import PageRAG
from pagerag.pipelines.shapes import report_json

_KEEP = 200  # finished jobs remembered


@dataclass(slots=True)
class Job:
    """One ingest request and where it stands (``queued``, ``running``, ``done`` or ``failed``)."""

    id: str
    paths: tuple[Path, ...]
    label: str
    sync: bool = False
    state: str = "queued"
    created: float = field(default_factory=time.time)
    progress: IngestProgress | None = None
    report: IngestReport | None = None
    error: str = ""
    on_done: Callable[[Job], None] | None = None

    def as_json(self) -> dict[str, Any]:
        """The job's status: files done/total, pages, pages/s, failures with reasons."""
        p, r = self.progress, self.report
        out: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "label": self.label,
            "files_total": p.files_total if p else 0,
            "files_done": p.files_done if p else 0,
            "current": p.current if p and self.state == "running" else "",
            "pages_done": p.pages if p else 0,
            "pages_per_second": round(p.pages_per_second, 2) if p else 0.0,
            "error": self.error,
        }
        if r is not None:
            out |= report_json(r)
        return out


class Jobs:
    """A queue of ingest jobs over one index, worked by one thread."""

    def __init__(self, rag: PageRAG, *, workers: int = 2) -> None:
        self._rag = rag
        self._workers = workers
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="pagerag-ingest", daemon=True)
        self._thread.start()

    def submit(
        self,
        paths: Sequence[Path],
        *,
        label: str = "",
        sync: bool = False,
        on_done: Callable[[Job], None] | None = None,
    ) -> Job:
        """Queue an ingest of ``paths``; ``on_done`` runs after it (its cleanup)."""
        job = Job(uuid.uuid4().hex[:12], tuple(paths), label, sync, on_done=on_done)
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.state in ("done", "failed")]
            for old in finished[: max(0, len(finished) - _KEEP)]:
                del self._jobs[old.id]
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def close(self, timeout: float = 30.0) -> None:
        """Finish the running job (queued ones are dropped), then stop the thread."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self._thread.join(timeout)

    def _work(self) -> None:
        from pagerag.ingest.options import IngestOptions

        while True:
            job = self._queue.get()
            if job is None:
                return
            job.state = "running"

            def seen(p: IngestProgress, job: Job = job) -> None:
                job.progress = p

            try:
                job.report = self._rag.ingest(
                    *job.paths, sync=job.sync, progress=seen, options=IngestOptions(workers=self._workers)
                )
                job.state = "done"
            except PageragError as exc:
                job.error, job.state = str(exc), "failed"
            except Exception as exc:  # a server keeps serving; the job says what went wrong
                job.error, job.state = f"{type(exc).__name__}: {exc}", "failed"
            finally:
                if job.on_done is not None:
                    job.on_done(job)
