"""The pipeline: incremental runs, renames, replacements, --sync, duplicates, reconcile, parallel workers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths, reconcile, remove_documents
from pagerag.ingest.types import DocumentInfo, IngestReport, Page


class RecordingSink:
    """A sink that keeps what it is told, to check the call order ingestion promises."""

    def __init__(self) -> None:
        self.pending: dict[str, list[int]] = {}
        self.visible: dict[str, str] = {}
        self.calls: list[tuple[str, ...]] = []

    def write(self, doc: DocumentInfo, pages: Sequence[Page]) -> None:
        assert doc.doc_id not in self.visible, "pages written to a published document"
        self.pending.setdefault(doc.doc_id, []).extend(p.page for p in pages)
        self.calls.append(("write", doc.doc_id, doc.source))

    def publish(self, doc_id: str, replaces: Sequence[str] = ()) -> None:
        assert doc_id in self.pending
        for old in replaces:
            self.visible.pop(old, None)
        del self.pending[doc_id]
        self.visible[doc_id] = "published"
        self.calls.append(("publish", doc_id, *replaces))

    def remove(self, doc_ids: Sequence[str]) -> None:
        for doc_id in doc_ids:
            self.visible.pop(doc_id, None)
            self.pending.pop(doc_id, None)
        self.calls.append(("remove", *doc_ids))

    def rename(self, doc_id: str, source: str) -> None:
        self.calls.append(("rename", doc_id, source))

    def published_doc_ids(self) -> set[str]:
        return set(self.visible)

    def close(self) -> None:
        return None


def _run(paths: list[Path], catalog: Catalog, sink: RecordingSink, options: IngestOptions) -> IngestReport:
    return ingest_paths(paths, catalog=catalog, sink=sink, options=options, progress=False)


def _one_document(
    tmp_path: Path, catalog: Catalog, options: IngestOptions, make: Callable[..., Path], name: str = "a.pdf"
) -> tuple[RecordingSink, DocumentInfo, Path]:
    path = make(name)
    sink = RecordingSink()
    _run([tmp_path / "docs"], catalog, sink, options)
    (doc,) = catalog.documents()
    return sink, doc, path


def test_second_run_does_nothing_and_pages_keep_their_order(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions, pdf_factory: Callable[..., Path]
) -> None:
    pdf_factory("a.pdf", pages=3)
    pdf_factory("sub/b.pdf", pages=2, seed=1)
    (tmp_path / "docs" / "readme.txt").write_text("Plain text notes about the harbour.\n", encoding="utf-8")
    sink = RecordingSink()
    first = _run([tmp_path / "docs"], catalog, sink, fast)
    assert (first.indexed, first.documents, first.pages, first.pages_indexed) == (3, 3, 6, 6)
    assert not first.failed and not first.skipped
    by_source = {d.source: d for d in catalog.documents()}
    assert set(by_source) == {"a.pdf", "sub/b.pdf", "readme.txt"}
    pages = catalog.pages(by_source["a.pdf"].doc_id)
    assert [p.page for p in pages] == [1, 2, 3]
    assert "container ships" in pages[0].text and pages[0].image_path and pages[0].image_path.exists()
    assert catalog.page(by_source["readme.txt"].doc_id, 1).text == "Plain text notes about the harbour."
    assert sink.published_doc_ids() == set(catalog.locations())
    calls = len(sink.calls)
    again = _run([tmp_path / "docs"], catalog, sink, fast)
    assert (again.indexed, again.unchanged, again.pages_indexed) == (0, 3, 0)
    assert len(sink.calls) == calls  # the sink is not touched at all


def test_a_renamed_file_keeps_its_pages_and_is_not_reembedded(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions, pdf_factory: Callable[..., Path]
) -> None:
    sink, doc, path = _one_document(tmp_path, catalog, fast, pdf_factory, "draft.pdf")
    path.rename(path.with_name("final.pdf"))
    report = _run([tmp_path / "docs"], catalog, sink, fast)
    assert (report.renamed, report.indexed, report.unchanged) == (1, 0, 0)
    assert sink.calls[-1] == ("rename", doc.doc_id, "final.pdf")
    assert [d.source for d in catalog.documents()] == ["final.pdf"]
    assert catalog.page(doc.doc_id, 1).image_path.exists()  # type: ignore[union-attr]


def test_a_changed_file_replaces_its_old_pages_in_one_step(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions, pdf_factory: Callable[..., Path]
) -> None:
    pdf_factory("report.pdf", pages=2)
    sink = RecordingSink()
    _run([tmp_path / "docs"], catalog, sink, fast)
    (old,) = catalog.documents()
    old_image = catalog.page(old.doc_id, 1).image_path
    pdf_factory("report.pdf", pages=3, seed=7)
    report = _run([tmp_path / "docs"], catalog, sink, fast)
    (new,) = catalog.documents()
    assert (report.indexed, report.documents, report.pages) == (1, 1, 3)
    assert new.doc_id != old.doc_id and new.source == "report.pdf"
    assert sink.calls[-1] == ("publish", new.doc_id, old.doc_id)
    assert sink.published_doc_ids() == {new.doc_id}
    assert old_image is not None and not old_image.exists()  # unreferenced images are pruned


def test_sync_removes_documents_whose_files_are_gone(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions, pdf_factory: Callable[..., Path]
) -> None:
    pdf_factory("keep.pdf")
    gone = pdf_factory("gone.pdf", seed=2)
    sink = RecordingSink()
    _run([tmp_path / "docs"], catalog, sink, fast)
    gone.unlink()
    without = _run([tmp_path / "docs"], catalog, sink, fast)
    assert (without.removed, without.documents) == (0, 2)
    synced = _run([tmp_path / "docs"], catalog, sink, IngestOptions(workers=0, sync=True))
    assert (synced.removed, synced.documents, synced.unchanged) == (1, 1, 1)
    assert [d.source for d in catalog.documents()] == ["keep.pdf"]
    assert len(sink.published_doc_ids()) == 1


def test_identical_copies_are_indexed_once(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions, pdf_factory: Callable[..., Path]
) -> None:
    original = pdf_factory("a.pdf")
    (tmp_path / "docs" / "copy.pdf").write_bytes(original.read_bytes())
    named_twice = tmp_path / "docs" / ".." / "docs" / "a.pdf"  # the folder and a file in it
    report = _run([tmp_path / "docs", named_twice], catalog, RecordingSink(), fast)
    assert report.indexed == 1
    assert [(Path(p.path).name, p.reason) for p in report.skipped] == [
        ("copy.pdf", "same content as a.pdf (indexed once)")
    ]


def test_reconcile_drops_half_written_documents_and_resends_lost_ones(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions, pdf_factory: Callable[..., Path]
) -> None:
    sink, doc, _ = _one_document(tmp_path, catalog, fast, pdf_factory)
    # A crash mid-document: pending in the catalog, written but unpublished in the sink.
    half = DocumentInfo("f" * 64, "half.pdf", 2)
    catalog.begin(half, tmp_path / "half.pdf", 10)
    sink.pending[half.doc_id] = [1]
    sink.visible["stray"] = "published"  # the sink shows something the catalog never completed
    lost = RecordingSink()  # a fresh, empty store: the catalog re-sends what it holds
    assert reconcile(catalog, sink) == 2
    assert catalog.pending() == [] and half.doc_id not in sink.pending and "stray" not in sink.visible
    assert reconcile(catalog, lost) == 1
    assert lost.published_doc_ids() == {doc.doc_id}


def test_two_worker_processes_give_the_same_pages(
    tmp_path: Path, catalog: Catalog, pdf_factory: Callable[..., Path]
) -> None:
    for i in range(3):
        pdf_factory(f"doc{i}.pdf", pages=5, seed=i)
    options = IngestOptions(workers=2, ocr=False, dpi=72, pages_per_task=2)
    report = _run([tmp_path / "docs"], catalog, RecordingSink(), options)
    assert (report.indexed, report.pages) == (3, 15)
    for d in catalog.documents():
        pages = catalog.pages(d.doc_id)
        assert [p.page for p in pages] == [1, 2, 3, 4, 5]
        assert all(f"{int(d.source[3]) * 100 + p.page - 1} container ships" in p.text for p in pages)


def test_remove_documents_takes_pages_and_images_away(
    tmp_path: Path, catalog: Catalog, fast: IngestOptions, pdf_factory: Callable[..., Path]
) -> None:
    sink, doc, _ = _one_document(tmp_path, catalog, fast, pdf_factory)
    image = catalog.page(doc.doc_id, 1).image_path
    remove_documents([doc.doc_id], catalog=catalog, sink=sink)
    assert catalog.documents() == [] and sink.published_doc_ids() == set()
    assert image is not None and not image.exists()


def test_a_converter_that_hangs_or_crashes_fails_only_its_file(
    tmp_path: Path, catalog: Catalog, pdf_factory: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = (
        '#!/bin/sh\nfor last; do :; done\nif grep -q HANG "$last"; then sleep 30; else kill -SEGV $$; fi\n'
    )
    (bin_dir / "soffice").write_text(script)
    (bin_dir / "soffice").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    docs = tmp_path / "docs"
    pdf_factory("fine.pdf")
    (docs / "hang.docx").write_bytes(b"PK\x03\x04HANG" + b"\x00" * 200)
    (docs / "crash.docx").write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    options = IngestOptions(workers=0, ocr=False, dpi=72, office_timeout=2)
    report = _run([docs], catalog, RecordingSink(), options)
    reasons = {Path(p.path).name: p.reason for p in report.failed}
    assert report.indexed == 1 and set(reasons) == {"hang.docx", "crash.docx"}
    assert "timed out" in reasons["hang.docx"] and "crashed" in reasons["crash.docx"]
    assert all(len(r.splitlines()) == 1 for r in reasons.values())


def test_poppler_renderer_and_latin1_text_files(
    tmp_path: Path, catalog: Catalog, pdf_factory: Callable[..., Path]
) -> None:
    pytest.importorskip("pdf2image")
    if not shutil.which("pdftoppm"):
        pytest.skip("poppler-utils is not installed")
    pdf_factory("a.pdf", pages=1)
    (tmp_path / "docs" / "legacy.txt").write_bytes("Caf\xe9 cr\xe8me, na\xefve".encode("latin-1"))
    options = IngestOptions(workers=0, ocr=False, dpi=72, renderer="poppler")
    report = _run([tmp_path / "docs"], catalog, RecordingSink(), options)
    assert (report.indexed, report.failed) == (2, ())
    by_source = {d.source: d.doc_id for d in catalog.documents()}
    page = catalog.page(by_source["a.pdf"], 1)
    assert page.image_path is not None
    from PIL import Image

    assert Image.open(page.image_path).size == (595, 842)  # 72 dpi of an A4 page, drawn by pdftoppm
    assert catalog.page(by_source["legacy.txt"], 1).text == "Café crème, naïve"


def test_worker_processes_do_not_rerun_a_script_without_a_main_guard(
    tmp_path: Path, pdf_factory: Callable[..., Path]
) -> None:
    pdf_factory("a.pdf", pages=2)
    script = (
        "from pathlib import Path\n"
        "from pagerag.ingest.catalog import Catalog\n"
        "from pagerag.ingest.pipeline import ingest_paths, IngestOptions\n"
        "from pagerag.ingest.sink import NullSink\n"
        f"with Catalog.open(Path({str(tmp_path / 'index')!r})) as c:\n"
        f"    r = ingest_paths([Path({str(tmp_path / 'docs')!r})], catalog=c, sink=NullSink(),\n"
        "                     options=IngestOptions(workers=1, ocr=False, dpi=72), progress=False)\n"
        "print('RESULT', r.indexed, len(r.failed))\n"
    )
    out = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["RESULT", "1", "0"]  # printed once: the workers did not run the script
