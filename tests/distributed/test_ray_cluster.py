"""Ingestion on a Ray cluster given by its address (``ray start`` on loopback: a head and a worker node)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from congruence import assert_same_index
from ray_runs import ingest, make_pdfs

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.options import IngestOptions
from pagerag.pipelines.core import PageRAG
from pagerag.pipelines.ray_ingest import RayOptions
from pagerag.retriever.store.base import LIVE_ONLY, Eq

pytestmark = pytest.mark.slow

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "sample_docs"

DRIVER = """
import sys
from pathlib import Path
from pagerag.ingest.catalog import Catalog
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.pipelines.core import PageRAG
from pagerag.pipelines.ray_ingest import RayOptions, RayProcessor

if __name__ == "__main__":
    docs, index, address = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    with PageRAG.open(index) as rag, Catalog.open(index) as catalog:
        ingest_paths([docs], catalog=catalog, sink=rag.index, progress=False,
                     options=IngestOptions(ocr=False, pages_per_task=1),
                     processor=RayProcessor(RayOptions(address=address)))
"""


def test_the_cluster_of_ray_address_builds_the_local_index(
    ray_cluster: str, sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster)
    report = ingest(tmp_path / "index", SAMPLE_DOCS, ray=RayOptions(address="auto"))

    assert (report.indexed, report.pages_indexed, report.failed) == (4, 9, ())
    assert_same_index(sample_index, tmp_path / "index")


def _state(db: Path) -> tuple[int, int]:
    """(complete documents, pages of pending documents), read as another process would."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
        complete = con.execute("SELECT COUNT(*) FROM documents WHERE state = 'complete'").fetchone()[0]
        pending = con.execute(
            "SELECT COUNT(*) FROM pages JOIN documents USING (doc_id) WHERE state = 'pending'"
        ).fetchone()[0]
    return int(complete), int(pending)


def test_a_driver_killed_mid_run_leaves_whole_documents_and_the_next_run_completes(
    ray_cluster: str, tmp_path: Path
) -> None:
    docs = make_pdfs(tmp_path / "docs", count=4, pages=30)
    index = tmp_path / "ray"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    child = subprocess.Popen([sys.executable, str(script), str(docs), str(index), ray_cluster])
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and child.poll() is None:
            with contextlib.suppress(sqlite3.OperationalError):
                if (index / "catalog.sqlite").exists():
                    complete, pending = _state(index / "catalog.sqlite")
                    if complete >= 1 and pending >= 2:
                        break
            time.sleep(0.02)
        assert child.poll() is None, "the ingest finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)  # the driver only: the cluster lives on
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()

    with Catalog.open(index) as catalog:
        assert catalog.pending(), "a document was being written when the driver died"
        for doc in catalog.documents():  # whatever is listed is whole
            assert [p.page for p in catalog.pages(doc.doc_id)] == list(range(1, 31))
    with PageRAG.open(index) as rag:
        store = rag.index.store
        for doc_id in store.published_doc_ids():  # and whatever is searchable
            assert store.count(LIVE_ONLY.and_(Eq("doc_id", doc_id))) == 30

    options = IngestOptions(ocr=False, pages_per_task=1)
    report = ingest(index, docs, ray=RayOptions(address=ray_cluster), options=options)
    assert report.extra["recovered"] >= 1
    assert (report.documents, report.pages, report.failed) == (4, 120, ())
    ingest(tmp_path / "local", docs, options=options)
    assert_same_index(tmp_path / "local", index)
