"""Run new documents through the worker processes and hand their pages on, in order, in bounded batches.

Documents are prepared a little ahead (office conversion runs while the previous
document renders), each is cut into page tasks, and at most ``2 x workers`` tasks
are in flight, so memory stays flat however long a document is. Pages are taken in
order: a document is begun in the catalog (pending), its pages written to the
catalog and the sink batch by batch, then published and completed in one step.
A document that fails half-way is taken out of both again.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Protocol

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.errors import PageragError
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.progress import Progress
from pagerag.ingest.scan import display
from pagerag.ingest.sink import PageSink
from pagerag.ingest.types import DocumentInfo, FileProblem, Page
from pagerag.ingest.worker import DocJob, Outcome, Prepared, init_worker, prepare, render_pages

LOOKAHEAD = 2


class InlineExecutor(Executor):
    """Runs each call at once in this process (``workers=0``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class WorkerPool(ProcessPoolExecutor):
    """A process pool whose workers never import the caller's ``__main__``.

    forkserver and spawn children import the parent's main script so that functions
    defined there can be unpickled. pagerag's work functions live in
    :mod:`pagerag.ingest.worker`, and a script without an ``if __name__ == "__main__"``
    guard (or code piped to ``python -``) would otherwise run again in every worker.
    Workers start inside ``submit``, so the main module is hidden just around it.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        main = sys.modules.get("__main__")
        if main is None:
            return super().submit(fn, *args, **kwargs)
        saved: dict[str, Any] = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        try:
            return super().submit(fn, *args, **kwargs)
        finally:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


def make_executor(workers: int) -> Executor:
    """A process pool of ``workers`` (forkserver: no fork of a threaded parent), or inline for 0."""
    if workers <= 0:
        return InlineExecutor()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pagerag.ingest.worker"])
    return WorkerPool(
        max_workers=workers, mp_context=context, initializer=init_worker, initargs=(os.getpid(),)
    )


@dataclass
class Tally:
    """What processing new documents did."""

    indexed: int = 0
    pages: int = 0
    failed: list[FileProblem] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


class Processor(Protocol):
    """Turns new documents into published pages: :func:`process` here, or another engine's scheduler."""

    def __call__(
        self,
        jobs: Sequence[tuple[DocJob, tuple[str, ...]]],
        *,
        catalog: Catalog,
        sink: PageSink,
        options: IngestOptions,
        progress: Progress,
    ) -> Tally: ...


@dataclass
class DocState:
    """A document on its way through a scheduler: its job, what it replaces, how far it got."""

    job: DocJob
    replaces: tuple[str, ...]
    prepared: Prepared | None = None
    error: str = ""
    written: int = 0


class _PoolBroken(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def process(
    jobs: Sequence[tuple[DocJob, tuple[str, ...]]],
    *,
    catalog: Catalog,
    sink: PageSink,
    options: IngestOptions,
    progress: Progress,
) -> Tally:
    """Render, OCR and store ``jobs`` (each with the documents it replaces)."""
    tally = Tally()
    docs = [DocState(job, replaces) for job, replaces in jobs]
    start = 0
    while start < len(docs):
        executor = make_executor(options.workers)
        try:
            _run(docs[start:], executor, catalog, sink, options, progress, tally)
            start = len(docs)
        except _PoolBroken as broken:
            doc = docs[start + broken.index]
            abandon_document(doc, "a worker process crashed on this file", catalog, sink, tally)
            progress.file_done()
            start += broken.index + 1
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
    return tally


def _plan(
    docs: Sequence[DocState], executor: Executor, options: IngestOptions, images: Any
) -> Iterator[tuple[str, int, Any]]:
    prepares: dict[int, Future[Outcome]] = {}
    for k, doc in enumerate(docs):
        for j in range(k, min(k + 1 + LOOKAHEAD, len(docs))):
            if j not in prepares:
                prepares[j] = executor.submit(prepare, docs[j].job, options)
        try:
            outcome = prepares.pop(k).result()
        except BrokenProcessPool as exc:
            raise _PoolBroken(k) from exc
        if outcome.error or not isinstance(outcome.value, Prepared):
            doc.error = outcome.error or "could not be prepared"
            yield ("failed", k, None)
            continue
        doc.prepared = outcome.value
        yield ("begin", k, None)
        step = max(1, options.pages_per_task)
        for first in range(1, doc.prepared.page_count + 1, step):
            last = min(first + step - 1, doc.prepared.page_count)
            yield ("pages", k, executor.submit(render_pages, doc.prepared, first, last, options, images))
        yield ("end", k, None)


def _run(
    docs: Sequence[DocState],
    executor: Executor,
    catalog: Catalog,
    sink: PageSink,
    options: IngestOptions,
    progress: Progress,
    tally: Tally,
) -> None:
    plan = _plan(docs, executor, options, catalog.images.root)
    inflight: deque[tuple[str, int, Any]] = deque()
    cap = max(2, 2 * max(options.workers, 1))
    exhausted = False
    while True:
        while not exhausted and sum(1 for item in inflight if item[0] == "pages") < cap:
            try:
                inflight.append(next(plan))
            except StopIteration:
                exhausted = True
        if not inflight:
            return
        what, k, future = inflight.popleft()
        doc = docs[k]
        if what == "failed":
            tally.failed.append(FileProblem(display(doc.job.file.path), doc.error))
            cleanup_document(doc)
            progress.file_done()
        elif what == "begin":
            begin_document(doc, catalog, progress)
        elif what == "pages":
            try:
                outcome: Outcome = future.result()
            except BrokenProcessPool as exc:
                raise _PoolBroken(k) from exc
            if doc.error:
                continue
            if outcome.error or not isinstance(outcome.value, tuple):
                doc.error = outcome.error or "no pages"
                continue
            write_pages(doc, outcome.value, catalog, sink, progress)
        elif what == "end":
            finish_document(doc, catalog, sink, tally)
            progress.file_done()


# The steps of one document, in this order: begin (pending), write pages any number of times,
# finish (publish and complete, or abandon). Shared with the Ray scheduler (pagerag.pipelines.ray_ingest).


def begin_document(doc: DocState, catalog: Catalog, progress: Progress) -> None:
    """Record a prepared document as pending in the catalog."""
    assert doc.prepared is not None
    progress.current(doc.job.file.source)
    catalog.begin(doc_info(doc), doc.job.file.path, doc.job.file.size, doc.replaces)


def doc_info(doc: DocState) -> DocumentInfo:
    """What the catalog and the sink know of a prepared document."""
    assert doc.prepared is not None
    f = doc.job.file
    return DocumentInfo(f.doc_id, f.source, doc.prepared.page_count, doc.prepared.title, "", doc.job.kind)


def write_pages(
    doc: DocState, pages: tuple[Page, ...], catalog: Catalog, sink: PageSink, progress: Progress
) -> None:
    """Store a batch of a pending document's pages in the catalog and the sink (still invisible)."""
    try:
        catalog.add_pages(pages)
        sink.write(doc_info(doc), pages)
    except PageragError as exc:
        doc.error = f"could not store pages: {exc}"
        return
    doc.written += len(pages)
    progress.pages(len(pages))


def finish_document(doc: DocState, catalog: Catalog, sink: PageSink, tally: Tally) -> None:
    """Publish a document whose pages are all written, or abandon it (an error, a page missing)."""
    assert doc.prepared is not None
    doc_id = doc.job.file.doc_id
    if not doc.error and doc.written != doc.prepared.page_count:
        doc.error = f"only {doc.written} of {doc.prepared.page_count} pages came out"
    if doc.error:
        abandon_document(doc, doc.error, catalog, sink, tally)
        return
    try:
        sink.publish(doc_id, doc.replaces)
    except PageragError as exc:
        abandon_document(doc, f"could not publish pages: {exc}", catalog, sink, tally)
        return
    catalog.complete(doc_id, doc.prepared.page_count, doc.replaces)
    tally.indexed += 1
    tally.pages += doc.written
    tally.replaced.extend(doc.replaces)
    cleanup_document(doc)


def abandon_document(doc: DocState, reason: str, catalog: Catalog, sink: PageSink, tally: Tally) -> None:
    """Take a half-written document out of the sink and the catalog again."""
    doc_id = doc.job.file.doc_id
    try:
        sink.remove([doc_id])
    finally:
        catalog.remove([doc_id])
    tally.failed.append(FileProblem(display(doc.job.file.path), reason))
    cleanup_document(doc)


def cleanup_document(doc: DocState) -> None:
    """Delete the document's scratch files (office conversions)."""
    shutil.rmtree(doc.job.work_dir, ignore_errors=True)
