"""Ingest runs for the distributed tests: the local path and the Ray path, into an index directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.progress import IngestProgress
from pagerag.ingest.types import IngestReport
from pagerag.pipelines.core import PageRAG
from pagerag.pipelines.ray_ingest import RayOptions, RayProcessor


def ingest(
    index: Path,
    *paths: Path,
    ray: RayOptions | None = None,
    options: IngestOptions | None = None,
    progress: bool | Callable[[IngestProgress], None] = False,
) -> IngestReport:
    """What ``PageRAG.ingest`` does, on Ray when ``ray`` is given (else the local worker processes)."""
    with PageRAG.open(index) as rag, Catalog.open(index) as catalog:
        try:
            if ray is None:
                return ingest_paths(
                    list(paths), catalog=catalog, sink=rag.index, options=options or IngestOptions(),
                    progress=progress,
                )  # fmt: skip
            return ingest_paths(
                list(paths), catalog=catalog, sink=rag.index, options=options or IngestOptions(),
                progress=progress, processor=RayProcessor(ray),
            )  # fmt: skip
        finally:
            rag.index.flush()


def reasons(report: IngestReport) -> dict[str, str]:
    return {Path(p.path).name: p.reason for p in report.failed}


def make_pdfs(folder: Path, count: int, pages: int) -> Path:
    """``count`` born-digital PDFs of ``pages`` pages each, different text on every page."""
    import pymupdf

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        doc = pymupdf.open()
        for n in range(pages):
            text = (
                f"Part {i}, page {n + 1}. The harbour handled {1000 + 37 * i + n} vessels; "
                f"terminal {n % 4 + 1} moved {i * 100 + n} tonnes of cargo."
            )
            doc.new_page().insert_textbox(pymupdf.Rect(50, 50, 545, 792), text, fontsize=11)
        doc.save(folder / f"part{i}.pdf")
        doc.close()
    return folder


def write_corrupt(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    return path
