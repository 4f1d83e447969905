"""`pagerag ingest PATH...`: bring the index up to date with files and folders.

Exit status: 0 all files fine, 1 some file failed (each one listed with its reason),
2 usage error (a path that does not exist, a bad option value).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from pagerag.ingest.ocr import default_languages, installed_languages
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.scan import display
from pagerag.ingest.types import FileProblem, IngestReport
from pagerag.pipelines.cli import (
    add_index_option,
    add_model_options,
    add_qdrant_option,
    chosen_models,
    qdrant_api_key,
    qdrant_url,
    server_for,
)
from pagerag.pipelines.serve.client import RemoteRAG, ServerError
from pagerag.pipelines.shapes import report_json


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
    parser.add_argument(
        "--renderer",
        choices=("pymupdf", "poppler"),
        default="pymupdf",
        help="PDF page renderer (default pymupdf; poppler needs pdf2image and poppler-utils)",
    )
    parser.add_argument("--workers", type=int, default=2, help="render/OCR processes (default 2)")
    parser.add_argument("--password", default=None, help="password for encrypted PDFs")
    add_qdrant_option(parser)
    add_model_options(parser)
    parser.add_argument("--device", default=None, help="torch device for full-size models (default: auto)")
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help='render, OCR and embed on Ray (pip install "pagerag[ray]"): no ADDRESS starts or joins a Ray on '
        "this machine, 'auto' the cluster of RAY_ADDRESS, HOST:PORT that one",
    )
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
    remote = server_for(args)
    if remote is not None:
        with remote:
            if args.ray is not None:
                print(
                    f"pagerag ingest: error: pagerag serve at {remote.url} holds {args.index}: stop it to "
                    "ingest with --ray",
                    file=sys.stderr,
                )
                return 2
            return _through_server(args, remote)
    from pagerag.pipelines.core import PageRAG

    url = qdrant_url(args)
    with PageRAG.open(
        args.index, qdrant_url=url, api_key=qdrant_api_key(), models=chosen_models(args), device=args.device
    ) as rag:
        report = rag.ingest(
            *args.paths, options=options, progress=not (args.quiet or args.json), ray=_ray(args, url)
        )
    return _finish(args, report)


def _ray(args: argparse.Namespace, url: str | None) -> Any:
    """``--ray [ADDRESS]`` as ``PageRAG.ingest``'s ``ray`` (None: the local path)."""
    if args.ray is None:
        return None
    from pagerag.pipelines.ray_ingest import RayOptions

    direct = url if url and url != ":memory:" else None  # actors write straight to a Qdrant server
    return RayOptions(
        address=args.ray or None, qdrant_url=direct, qdrant_api_key=qdrant_api_key() if direct else None
    )


def _through_server(args: argparse.Namespace, remote: RemoteRAG) -> int:
    """Ingest through a running ``pagerag serve``: the server reads the files (under its ingest root)."""
    if chosen_models(args) or args.device:
        print(
            "pagerag ingest: note: the server's index keeps its models; --dense/--multi/--sparse/--device "
            "are ignored",
            file=sys.stderr,
        )
    loud = not (args.quiet or args.json)
    if loud:
        print(f"pagerag ingest: through pagerag serve at {remote.url}", file=sys.stderr)
    shown = {"files_done": -1}

    def status(job: dict[str, Any]) -> None:
        if loud and job["files_done"] != shown["files_done"]:
            shown["files_done"] = job["files_done"]
            print(
                f"  {job['files_done']}/{job['files_total']} files, {job['pages_done']} pages, "
                f"{job['pages_per_second']:.1f} pages/s {job['current']}",
                file=sys.stderr,
            )

    job = remote.ingest(args.paths, sync=args.sync, on_status=status)
    if job["state"] == "failed":
        raise ServerError(f"the server's ingest failed: {job['error']}")
    problems = {
        key: tuple(FileProblem(p["path"], p["reason"]) for p in job[key]) for key in ("skipped", "failed")
    }
    report = IngestReport(
        documents=job["documents"],
        pages=job["pages"],
        indexed=job["indexed"],
        unchanged=job["unchanged"],
        removed=job["removed"],
        renamed=job["renamed"],
        pages_indexed=job["pages_indexed"],
        skipped=problems["skipped"],
        failed=problems["failed"],
        seconds=job["seconds"],
    )
    return _finish(args, report)


def _finish(args: argparse.Namespace, report: IngestReport) -> int:
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False))
    else:
        print_summary(report, quiet=args.quiet)
    found = report.indexed or report.unchanged or report.renamed or report.removed or report.failed
    if not found:
        shown = ", ".join(display(p) for p in args.paths)
        print(
            f"pagerag ingest: warning: no document pagerag reads in {shown} (PDF, slide decks, office files, "
            "images, text)",
            file=sys.stderr,
        )
        return 1 if report.skipped else 0  # a file named explicitly that pagerag cannot read is a failure
    return 1 if report.failed else 0


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
    if args.ray and os.path.exists(args.ray):
        return f"--ray {args.ray}: that is a path; put --ray after the paths or write --ray=ADDRESS"
    index = Path(os.path.abspath(args.index))
    inside = [display(p) for p in args.paths if Path(os.path.abspath(p)) == index]
    if inside:
        return f"{inside[0]} is the index directory itself: give another --index (e.g. {inside[0]}/.pagerag)"
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
