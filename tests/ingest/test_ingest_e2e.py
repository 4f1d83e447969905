"""`pagerag ingest` end to end with the real vector store and packaged models, killed and resumed (slow)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pagerag.ingest.catalog import Catalog

pytestmark = pytest.mark.slow  # loads the packaged embedding models three times

CLI = [sys.executable, "-m", "pagerag.pipelines"]


def _published(index: Path) -> set[str]:
    from pagerag.retriever.index import PageIndex

    with PageIndex.open(index) as store:
        return store.published_doc_ids()


def test_killed_cli_run_leaves_the_store_consistent_and_the_next_run_completes(
    tmp_path: Path, pdf_factory: Callable[..., Path]
) -> None:
    for i in range(4):
        pdf_factory(f"part{i}.pdf", pages=6, seed=i)
    index = tmp_path / "index"
    argv = [*CLI, "ingest", str(tmp_path / "docs"), "--index", str(index), "--quiet", "--workers", "1"]
    child = subprocess.Popen(
        argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and child.poll() is None:
            with contextlib.suppress(sqlite3.Error):
                with sqlite3.connect(f"file:{index / 'catalog.sqlite'}?mode=ro", uri=True) as db:
                    states = dict(
                        db.execute("SELECT state, COUNT(*) FROM documents GROUP BY state").fetchall()
                    )
                if states.get("complete", 0) >= 1 and states.get("pending", 0) >= 1:
                    break
            time.sleep(0.05)
        assert child.poll() is None, "the ingest finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    with Catalog.open(index) as catalog:
        complete = {d.doc_id for d in catalog.documents()}
    assert 1 <= len(complete) < 4
    assert _published(index) == complete  # the half-written document is visible nowhere

    done = subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["documents"], report["pages"], report["unchanged"]) == (4, 24, len(complete))
    with Catalog.open(index) as catalog:
        assert _published(index) == {d.doc_id for d in catalog.documents()}

    again = subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=300)
    assert json.loads(again.stdout)["unchanged"] == 4
