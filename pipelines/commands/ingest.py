"""`pagerag ingest PATH...`: bring the index up to date with files and folders.

Exit status: 0 all files fine, 1 some file failed (each one listed with its reason),
2 usage error (a path that does not exist, a bad option value).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.ocr import default_languages, installed_languages
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.scan import display
from pagerag.ingest.sink import NullSink, PageSink
from pagerag.ingest.types import DocumentInfo, IngestReport, Page
from pagerag.pipelines.cli import (
    add_index_option,
    add_model_options,
    add_qdrant_option,
    chosen_models,
    qdrant_api_key,
    qdrant_url,
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "ingest",
        help="add or update files and folders in the index",
        description="Render, read (OCR where needed) and index PDFs, slide decks, office files, images "
        "and text files. Unchanged files are skipped; changed files replace their old pages.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    add_index_option(parser)
    parser.add_argument("--sync", action="store_true", help="also remove documents whose files are gone")
    parser.add_argument("--dpi", type=int, default=144, help="page image resolution (default 144)")
    parser.add_argument(
        "--ocr-lang",
        default=None,
        metavar="L",
        help="OCR languages to choose from per page, e.g. eng+deu (default: installed of "
        "eng+deu+fra+spa+nld+chi_sim+kor+fas); 'none' turns OCR off",
    )
    parser.add_argument("--renderer", choices=("pymupdf", "poppler"), default="pymupdf")
    parser.add_argument("--workers", type=int, default=2, help="render/OCR processes (default 2)")
    parser.add_argument("--password", default=None, help="password for encrypted PDFs")
    add_qdrant_option(parser)
    add_model_options(parser)
    parser.add_argument("--device", default=None, help="torch device for full-size models (default: auto)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problem = _usage_problem(args)
    if problem:
        print(f"pagerag ingest: error: {problem}", file=sys.stderr)
        return 2
    ocr_langs = _ocr_langs(args.ocr_lang)
    options = IngestOptions(
        dpi=args.dpi,
        ocr_langs=ocr_langs,
        ocr=ocr_langs != (),
        renderer=args.renderer,
        workers=args.workers,
        password=args.password,
        sync=args.sync,
    )
    if options.ocr and not installed_languages():
        print(
            "pagerag ingest: warning: tesseract is not installed: scanned pages and pictures get no text "
            "(install tesseract-ocr, or pass --ocr-lang none to silence this)",
            file=sys.stderr,
        )
    url = qdrant_url(args)
    sink = open_sink(args.index, url, models=chosen_models(args), device=args.device)
    try:
        with Catalog.open(args.index) as catalog:
            report = ingest_paths(
                args.paths,
                catalog=catalog,
                sink=sink,
                options=options,
                progress=not (args.quiet or args.json),
            )
    finally:
        sink.close()
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False))
    else:
        print_summary(report, quiet=args.quiet)
    return 1 if report.failed else 0


class LazySink:
    """A sink opened on first use: a run with nothing to do never loads the embedding models."""

    def __init__(self, opener: Callable[[], PageSink]) -> None:
        self._opener = opener
        self._sink: PageSink | None = None

    @property
    def sink(self) -> PageSink:
        if self._sink is None:
            self._sink = self._opener()
        return self._sink

    def write(self, doc: DocumentInfo, pages: Sequence[Page]) -> None:
        self.sink.write(doc, pages)

    def publish(self, doc_id: str, replaces: Sequence[str] = ()) -> None:
        self.sink.publish(doc_id, replaces)

    def remove(self, doc_ids: Sequence[str]) -> None:
        self.sink.remove(doc_ids)

    def rename(self, doc_id: str, source: str) -> None:
        self.sink.rename(doc_id, source)

    def published_doc_ids(self) -> set[str]:
        return self.sink.published_doc_ids()

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None


def open_sink(
    index_dir: Path,
    url: str | None,
    *,
    models: dict[str, str] | None = None,
    device: str | None = None,
) -> PageSink:
    """The index's vector store as the sink, opened lazily (a :class:`NullSink` if the store is missing)."""
    try:
        from pagerag.retriever.index import PageIndex
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("pagerag.retriever"):
            return NullSink()
        raise
    api_key = qdrant_api_key()
    return LazySink(lambda: PageIndex.open(index_dir, models=models, url=url, api_key=api_key, device=device))


def report_json(report: IngestReport) -> dict[str, Any]:
    """The report as plain JSON values."""
    return {
        "documents": report.documents,
        "pages": report.pages,
        "indexed": report.indexed,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "renamed": report.renamed,
        "pages_indexed": report.pages_indexed,
        "skipped": [{"path": p.path, "reason": p.reason} for p in report.skipped],
        "failed": [{"path": p.path, "reason": p.reason} for p in report.failed],
        "seconds": report.seconds,
    }


def print_summary(report: IngestReport, *, quiet: bool) -> None:
    for p in report.skipped if not quiet else ():
        print(f"skipped  {p.path}: {p.reason}")
    for p in report.failed:
        print(f"failed   {p.path}: {p.reason}", file=sys.stderr)
    rate = report.pages_indexed / report.seconds if report.seconds else 0.0
    print(
        f"{report.indexed} indexed ({report.pages_indexed} pages, {rate:.1f} pages/s), "
        f"{report.unchanged} unchanged, {report.renamed} renamed, {report.removed} removed, "
        f"{len(report.skipped)} skipped, {len(report.failed)} failed in {report.seconds:.1f} s; "
        f"the index holds {report.documents} documents, {report.pages} pages"
    )


def _usage_problem(args: argparse.Namespace) -> str:
    missing = [display(p) for p in args.paths if not os.path.lexists(p)]
    if missing:
        return f"no such file or directory: {', '.join(missing)}"
    if not 36 <= args.dpi <= 600:
        return f"--dpi must be between 36 and 600, not {args.dpi}"
    if args.workers < 0:
        return f"--workers must be 0 or more, not {args.workers}"
    if args.ocr_lang and args.ocr_lang.lower() != "none":
        have = installed_languages()
        unknown = [lang for lang in _split_langs(args.ocr_lang) if lang not in have]
        if unknown:
            installed = "+".join(sorted(have)) or "none"
            return f"OCR language(s) not installed: {', '.join(unknown)} (installed: {installed})"
    models = chosen_models(args)
    if models:
        from pagerag.ingest.errors import ConfigError
        from pagerag.retriever.embedders.registry import resolve

        try:
            resolve(models)
        except ConfigError as exc:
            return str(exc)
    return ""


def _split_langs(value: str) -> list[str]:
    return [x for x in value.replace(",", "+").split("+") if x]


def _ocr_langs(value: str | None) -> tuple[str, ...]:
    if value is None:
        return default_languages()
    if value.lower() == "none":
        return ()
    return tuple(_split_langs(value))
