"""SIGKILL in the middle of an ingest: nothing is half-visible, and the next run completes the work."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.sink import NullSink

CHILD = """
import sys
from pathlib import Path
from pagerag.ingest.catalog import Catalog
from pagerag.ingest.pipeline import ingest_paths, IngestOptions
from pagerag.ingest.sink import NullSink

if __name__ == "__main__":
    with Catalog.open(Path(sys.argv[2])) as catalog:
        ingest_paths([Path(sys.argv[1])], catalog=catalog, sink=NullSink(), progress=False,
                     options=IngestOptions(workers=1, ocr=False, pages_per_task=1, dpi=144))
"""


def _state(db_path: Path) -> tuple[int, int]:
    """(complete documents, pages of pending documents), read the way another process would."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
        complete = db.execute("SELECT COUNT(*) FROM documents WHERE state = 'complete'").fetchone()[0]
        pending_pages = db.execute(
            "SELECT COUNT(*) FROM pages JOIN documents USING (doc_id) WHERE state = 'pending'"
        ).fetchone()[0]
    return int(complete), int(pending_pages)


def test_sigkill_mid_ingest_leaves_no_half_document_and_the_next_run_completes(
    tmp_path: Path, pdf_factory: Callable[..., Path]
) -> None:
    for i in range(4):
        pdf_factory(f"part{i}.pdf", pages=30, seed=i)
    index = tmp_path / "index"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "docs"), str(index)], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if (index / "catalog.sqlite").exists():
                try:
                    complete, pending_pages = _state(index / "catalog.sqlite")
                except sqlite3.OperationalError:
                    complete, pending_pages = 0, 0
                if complete >= 1 and pending_pages >= 2:
                    break
            time.sleep(0.02)
        assert child.poll() is None, "the ingest finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the child's own worker processes

    with Catalog.open(index) as catalog:
        assert catalog.pending(), "a document was being written when the process died"
        visible = catalog.documents()
        assert 1 <= len(visible) < 4
        for doc in visible:  # whatever is listed is whole
            assert [p.page for p in catalog.pages(doc.doc_id)] == list(range(1, 31))
        report = ingest_paths(
            [tmp_path / "docs"],
            catalog=catalog,
            sink=NullSink(),
            options=IngestOptions(workers=0, ocr=False, dpi=72),
            progress=False,
        )
        assert report.extra["recovered"] >= 1
        assert (report.documents, report.pages, report.unchanged) == (4, 120, len(visible))
        assert catalog.pending() == []
        keys = catalog.image_keys()
        assert keys == catalog.images.keys()  # no orphaned images from the killed run
