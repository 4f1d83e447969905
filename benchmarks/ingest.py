"""Ingestion speed: render, text layer, OCR and the whole pipeline, in pages per second, with peak RSS.

Stages are timed one at a time in this process (one core), then the whole pipeline
(``ingest_paths`` into the page table, default 2 worker processes) on:

- the dev set documents (decks converted by LibreOffice, scans OCRed), and
- a generated born-digital PDF (``--pages``, default 300) that needs no OCR.

    .venv/bin/python benchmarks/ingest.py                       # both corpora
    .venv/bin/python benchmarks/ingest.py --docs ../shared/devset/docs --pages 1000

Prints a markdown table; peak RSS is the ingesting process's (workers are separate).
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pymupdf

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.formats import pdf as pdf_format
from pagerag.ingest.ocr import default_languages, ocr
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.sink import NullSink

ROOT = Path(__file__).resolve().parents[1]


def make_long_pdf(path: Path, pages: int) -> Path:
    """A born-digital report: a heading, three paragraphs and a small table per page."""
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page()
        page.insert_text((60, 70), f"Section {n + 1}: harbour operations", fontsize=16)
        body = (
            f"In period {n + 1} the port handled {1000 + 7 * n} vessels. Container volumes rose by "
            f"{n % 9 + 1}.{n % 7} percent while bulk cargo fell slightly. " * 6
        )
        page.insert_textbox(pymupdf.Rect(60, 90, 535, 520), body, fontsize=10)
        for r in range(8):
            page.insert_text(
                (60, 560 + 18 * r), f"Terminal {r + 1}    {r * 113 + n}    {r * 7.5 + n:.1f}", fontsize=9
            )
    doc.save(path)
    doc.close()
    return path


def stage_rates(pdfs: list[Path], dpi: int) -> dict[str, float]:
    """Pages/s of each stage alone, one core: render at ``dpi``, text layer, OCR of pages that need it."""
    render_s = text_s = ocr_s = 0.0
    pages = ocr_pages = 0
    langs = default_languages()
    for path in pdfs:
        doc = pdf_format.open_pdf(path)
        for page in doc:
            t0 = time.perf_counter()
            pdf_format.render(page, dpi)
            t1 = time.perf_counter()
            layer = pdf_format.layer(page)
            t2 = time.perf_counter()
            render_s += t1 - t0
            text_s += t2 - t1
            pages += 1
            if len(layer.text.strip()) < 40:
                image = pdf_format.render(page, 200, gray=True)
                t3 = time.perf_counter()
                ocr(image, langs)
                ocr_s += time.perf_counter() - t3
                ocr_pages += 1
        doc.close()
    return {
        "pages": pages,
        "render": pages / render_s if render_s else 0.0,
        "text": pages / text_s if text_s else 0.0,
        "ocr_pages": ocr_pages,
        "ocr": ocr_pages / ocr_s if ocr_s else 0.0,
    }


def pipeline_rate(folder: Path, workers: int, dpi: int) -> tuple[float, int, float]:
    """(pages/s, pages, seconds) of a full ``ingest_paths`` run into a fresh page table."""
    with tempfile.TemporaryDirectory(prefix="pagerag-bench-") as tmp, Catalog.open(Path(tmp)) as catalog:
        options = IngestOptions(workers=workers, dpi=dpi)
        report = ingest_paths([folder], catalog=catalog, sink=NullSink(), options=options, progress=False)
        if report.failed:
            print("failed:", report.failed)
        again = ingest_paths([folder], catalog=catalog, sink=NullSink(), options=options, progress=False)
        print(f"  second run over {folder.name}: {again.unchanged} unchanged in {again.seconds:.2f} s")
        return report.pages_indexed / report.seconds, report.pages_indexed, report.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=ROOT.parent / "shared" / "devset" / "docs")
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--dpi", type=int, default=144)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pagerag-bench-long-") as tmp:
        long_dir = Path(tmp) / "long"
        long_dir.mkdir()
        long_pdf = make_long_pdf(long_dir / "long.pdf", args.pages)
        stages = stage_rates([long_pdf], args.dpi)
        rate, pages, secs = pipeline_rate(long_dir, args.workers, args.dpi)
        rows.append((f"generated {args.pages}-page PDF", stages, rate, pages, secs))
        if args.docs.exists():
            pdfs = sorted(args.docs.glob("*.pdf"))
            stages = stage_rates(pdfs, args.dpi)
            rate, pages, secs = pipeline_rate(args.docs, args.workers, args.dpi)
            rows.append(
                (f"{args.docs.name} ({len(list(args.docs.iterdir()))} files)", stages, rate, pages, secs)
            )
        shutil.rmtree(long_dir, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    print(
        f"\n{when}, {platform.machine()}, dpi {args.dpi}, {args.workers} workers; stages: one core, PDFs only"
    )
    print("| corpus | render p/s | text p/s | OCR p/s (pages) | pipeline p/s (pages, s) |")
    print("|---|---|---|---|---|")
    for name, st, rate, pages, secs in rows:
        print(
            f"| {name} | {st['render']:.1f} | {st['text']:.0f} | {st['ocr']:.2f} ({st['ocr_pages']}) "
            f"| {rate:.1f} ({pages}, {secs:.1f}) |"
        )
    print(f"peak RSS of the ingesting process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
