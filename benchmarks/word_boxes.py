"""Word boxes: what keeping every page's words with their boxes costs, in catalog bytes and ingest time.

Each corpus is ingested into fresh page tables (no vector store) with word boxes off
and on, alternately, ``--repeat`` times; the fastest run of each counts, in wall time
and in CPU time (this process and its children: tesseract, LibreOffice), which a busy
machine disturbs less. Catalog size
is the SQLite file after a checkpoint and VACUUM; the ``words`` column is also priced
as plain JSON (``[[text, x0, y0, x1, y1, ocr], ...]``) and as deflated JSON, the
encodings this one was chosen over.

    .venv/bin/python benchmarks/word_boxes.py sample_docs ../shared/devset/docs

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sqlite3
import tempfile
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.formats import pdf as pdf_format
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.sink import NullSink
from pagerag.ingest.words import encode


def ingest(folder: Path, index_dir: Path, *, word_boxes: bool, workers: int) -> tuple[float, float, int]:
    """Wall and CPU seconds (this process and its children: tesseract, LibreOffice) to ingest
    ``folder`` into a fresh page table, and the pages it holds."""
    options = IngestOptions(workers=workers, word_boxes=word_boxes)
    with Catalog.open(index_dir) as catalog:
        cpu = _cpu()
        started = time.perf_counter()
        report = ingest_paths([folder], catalog=catalog, sink=NullSink(), options=options, progress=False)
        seconds = time.perf_counter() - started
        cpu = _cpu() - cpu
    if report.failed:
        raise SystemExit(f"{folder}: {report.failed}")
    return seconds, cpu, report.pages


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def catalog_bytes(index_dir: Path) -> int:
    """Size of the page table on disk, compacted."""
    db = sqlite3.connect(index_dir / "catalog.sqlite")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("VACUUM")
    db.close()
    return (index_dir / "catalog.sqlite").stat().st_size


def column_bytes(index_dir: Path) -> dict[str, float]:
    """Bytes of the words of all pages: as stored, as JSON, as deflated JSON; and the word count."""
    stored = as_json = deflated = words = 0
    with Catalog.open(index_dir) as catalog:
        for doc in catalog.documents():
            for page in range(1, doc.pages + 1):
                boxes = catalog.words(doc.doc_id, page)
                rows = [[w.text, w.x0, w.y0, w.x1, w.y1, int(w.ocr)] for w in boxes]
                data = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()
                as_json += len(data)
                deflated += len(zlib.compress(data, 6))
                words += len(boxes)
        stored = catalog._db.execute("SELECT COALESCE(SUM(LENGTH(words)), 0) FROM pages").fetchone()[0]
    return {"stored": stored, "json": as_json, "json_deflated": deflated, "words": words}


def text_layer_ms(folder: Path) -> float:
    """Milliseconds per PDF page to take the text layer's word boxes and encode them (one core)."""
    spent, pages = 0.0, 0
    for path in sorted(folder.glob("*.pdf")):
        doc = pdf_format.open_pdf(path)
        for page in doc:
            zoom = pdf_format.zoom_for(page.rect.width, page.rect.height, IngestOptions().dpi)
            size = (round(page.rect.width * zoom), round(page.rect.height * zoom))
            started = time.perf_counter()
            encode(pdf_format.text_words(page, size))
            spent += time.perf_counter() - started
            pages += 1
        doc.close()
    return 1000 * spent / max(pages, 1)


def measure(folder: Path, repeat: int, workers: int) -> dict[str, float]:
    best = {False: float("inf"), True: float("inf")}
    best_cpu = dict(best)
    sizes: dict[bool, int] = {}
    pages = 0
    columns: dict[str, float] = {}
    for _ in range(repeat):
        for word_boxes in (False, True):
            with tempfile.TemporaryDirectory(prefix="pagerag-bench-") as tmp:
                index_dir = Path(tmp) / "index"
                seconds, cpu, pages = ingest(folder, index_dir, word_boxes=word_boxes, workers=workers)
                best[word_boxes] = min(best[word_boxes], seconds)
                best_cpu[word_boxes] = min(best_cpu[word_boxes], cpu)
                sizes[word_boxes] = catalog_bytes(index_dir)
                if word_boxes:
                    columns = column_bytes(index_dir)
    return {
        "pages": pages,
        "words_per_page": columns["words"] / pages,
        "kb_without": sizes[False] / pages / 1024,
        "kb_with": sizes[True] / pages / 1024,
        "stored_kb": columns["stored"] / pages / 1024,
        "json_kb": columns["json"] / pages / 1024,
        "json_deflated_kb": columns["json_deflated"] / pages / 1024,
        "s_without": best[False],
        "s_with": best[True],
        "cpu_without": best_cpu[False],
        "cpu_with": best_cpu[True],
        "text_layer_ms": text_layer_ms(folder),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0, help="0: in this process, one core (steadier)")
    args = parser.parse_args()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {platform.python_version()}, "
        f"workers={args.workers}, best of {args.repeat}\n"
    )
    print(
        "| corpus | pages | words/page | catalog KB/page without -> with | words column KB/page "
        "(stored / JSON / deflated JSON) | ingest wall s without -> with | ingest CPU s without -> with "
        "| text-layer boxes ms/PDF page |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for folder in args.folders:
        m = measure(folder, args.repeat, args.workers)
        extra = (m["s_with"] / m["s_without"] - 1) * 100
        extra_cpu = (m["cpu_with"] / m["cpu_without"] - 1) * 100
        print(
            f"| `{folder.name}` | {m['pages']:.0f} | {m['words_per_page']:.0f} "
            f"| {m['kb_without']:.1f} -> {m['kb_with']:.1f} "
            f"| {m['stored_kb']:.2f} / {m['json_kb']:.2f} / {m['json_deflated_kb']:.2f} "
            f"| {m['s_without']:.2f} -> {m['s_with']:.2f} ({extra:+.0f}%) "
            f"| {m['cpu_without']:.2f} -> {m['cpu_with']:.2f} ({extra_cpu:+.0f}%) "
            f"| {m['text_layer_ms']:.2f} |"
        )


if __name__ == "__main__":
    main()
