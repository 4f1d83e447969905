"""Ingest paths into an index: find files, skip what is unchanged, render and OCR the rest, publish.

Identity is content: a document is the SHA-256 of its bytes. Per run:

1. Reconcile the catalog with the sink (a killed run leaves pending documents: both
   forget them; documents only one side knows are removed or re-sent).
2. Walk the paths, hash every file.
3. Sort each file: unchanged (same hash, same path), renamed (known hash, old path
   gone: no re-embedding), a duplicate of another file, or new (replacing what was
   at its path before).
4. Process new documents in worker processes (:mod:`pagerag.ingest.schedule`), or with
   another ``processor`` (a Ray cluster: :mod:`pagerag.pipelines.ray_ingest`).
5. With ``sync``, remove documents whose files are gone.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.errors import DocumentError, IndexLocked
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.progress import IngestProgress, Progress
from pagerag.ingest.scan import FoundFile, display, hash_file, scan_paths
from pagerag.ingest.schedule import Processor, process
from pagerag.ingest.sink import NullSink, PageSink
from pagerag.ingest.types import FileProblem, IngestReport, SourceFile
from pagerag.ingest.worker import DocJob

__all__ = ["IngestOptions", "ingest_paths", "remove_documents"]


@dataclass(frozen=True, slots=True)
class _Plan:
    new: list[tuple[DocJob, tuple[str, ...]]]
    unchanged: int
    renames: list[tuple[str, SourceFile]]
    renamed: int
    skipped: list[FileProblem]
    claimed: set[str]


def ingest_paths(
    paths: Sequence[Path],
    *,
    catalog: Catalog,
    sink: PageSink,
    options: IngestOptions,
    progress: bool | Callable[[IngestProgress], None] = True,
    processor: Processor = process,
) -> IngestReport:
    """Bring the index up to date with the files under ``paths``.

    Args:
        paths: files and directories to ingest.
        catalog: the page table of the index (see :meth:`Catalog.open`).
        sink: where pages go besides the catalog (the vector store), see :class:`PageSink`.
        options: rendering, OCR and parallelism settings.
        progress: show a progress bar on stderr, or a function called with each :class:`IngestProgress`.
        processor: what renders, embeds and publishes the new documents once the run is planned
            (default: local worker processes; :mod:`pagerag.pipelines.ray_ingest` gives a Ray one).

    Returns:
        What the run did; per-file problems are in ``skipped`` / ``failed``, never raised.

    Raises:
        IndexLocked: another ingest is writing to the same index.

    Example:
        >>> with Catalog.open(Path(".pagerag")) as catalog:  # doctest: +SKIP
        ...     options = IngestOptions()
        ...     report = ingest_paths([Path("docs")], catalog=catalog, sink=NullSink(), options=options)
        >>> report.indexed, report.failed  # doctest: +SKIP
        (3, ())
    """
    started = time.perf_counter()
    with _locked(catalog.index_dir):
        shutil.rmtree(catalog.index_dir / "tmp", ignore_errors=True)  # conversions a killed run left
        recovered = _drop_pending(catalog, sink)
        scan = scan_paths(paths, exclude=[catalog.index_dir])
        failed = list(scan.failed)
        files: list[SourceFile] = []
        kinds: dict[Path, str] = {}
        for found in scan.files:
            try:
                files.append(_hashed(found))
                kinds[found.path] = found.kind
            except DocumentError as exc:
                failed.append(FileProblem(exc.path, exc.reason))
        hashed_at = time.perf_counter()
        plan = _classify(files, kinds, catalog)
        gone = _gone(catalog, scan.roots, plan.claimed) if options.sync else []
        # Every run checks that the store holds what the catalog says (an emptied or replaced
        # store is refilled from the page table); an index's models load only if pages must be embedded.
        recovered += reconcile(catalog, sink)
        for doc_id, file in plan.renames:
            sink.rename(doc_id, file.source)
            catalog.rename(doc_id, file.path, file.source)
        bar = Progress(len(plan.new), enabled=progress)
        try:
            tally = processor(plan.new, catalog=catalog, sink=sink, options=options, progress=bar)
        finally:
            bar.close()
        failed += tally.failed
        if gone:
            sink.remove(gone)
            catalog.remove(gone)
        if tally.failed or tally.replaced or gone or recovered:
            catalog.images.prune(catalog.image_keys())
        documents, pages = catalog.counts()
    seconds = time.perf_counter() - started
    return IngestReport(
        documents=documents,
        pages=pages,
        indexed=tally.indexed,
        unchanged=plan.unchanged,
        removed=len(gone),
        renamed=plan.renamed,
        pages_indexed=tally.pages,
        skipped=tuple(scan.skipped) + tuple(plan.skipped),
        failed=tuple(failed),
        seconds=round(seconds, 3),
        extra={
            "scan_seconds": round(hashed_at - started, 3),
            "pages_per_second": round(tally.pages / max(seconds, 1e-9), 2),
            "replaced": float(len(tally.replaced)),
            "recovered": float(recovered),
        },
    )


def remove_documents(doc_ids: Sequence[str], *, catalog: Catalog, sink: PageSink) -> None:
    """Take documents out of the sink and the catalog, and delete their page images."""
    with _locked(catalog.index_dir):
        sink.remove(list(doc_ids))
        catalog.remove(doc_ids)
        catalog.images.prune(catalog.image_keys())


def reconcile(catalog: Catalog, sink: PageSink) -> int:
    """Make the catalog and the sink agree after a crash; returns how many documents were fixed.

    Pending documents (a run was killed while writing them) leave both. Documents the
    sink shows but the catalog does not know leave the sink. Complete documents the
    sink lacks are sent to it again from the catalog (the page table is the source of
    truth; a :class:`NullSink` keeps nothing, so nothing is re-sent to it).
    """
    fixed = _drop_pending(catalog, sink)
    if isinstance(sink, NullSink):
        return fixed
    complete = set(catalog.locations())
    published = sink.published_doc_ids()
    stray = sorted(published - complete)
    if stray:
        sink.remove(stray)
        fixed += len(stray)
    for doc_id in sorted(complete - published):
        info = catalog.document(doc_id)
        if info is None:
            continue
        sink.write(info, catalog.pages(doc_id))
        sink.publish(doc_id)
        fixed += 1
    return fixed


def _drop_pending(catalog: Catalog, sink: PageSink) -> int:
    pending = catalog.pending()
    if pending:
        sink.remove(pending)
        catalog.remove(pending)
    return len(pending)


def _hashed(found: FoundFile) -> SourceFile:
    return SourceFile(found.path, found.source, hash_file(found.path), found.size)


def _classify(files: Sequence[SourceFile], kinds: dict[Path, str], catalog: Catalog) -> _Plan:
    known = catalog.locations()
    by_path = {path: doc_id for doc_id, (path, _) in known.items()}
    hash_at = {f.path: f.doc_id for f in files}
    claimed: dict[str, SourceFile] = {}
    # A known document still at its old path keeps it, whatever order the walk found copies in.
    for f in files:
        if known.get(f.doc_id, (None, ""))[0] == f.path:
            claimed[f.doc_id] = f
    unchanged = 0
    renames: list[tuple[str, SourceFile]] = []
    skipped: list[FileProblem] = []
    fresh: list[SourceFile] = []
    seen: set[Path] = set()
    for f in files:
        if f.path in seen:  # the same file named twice (a folder and a file in it)
            continue
        seen.add(f.path)
        holder = claimed.get(f.doc_id)
        if holder is not None and holder.path != f.path:
            skipped.append(FileProblem(display(f.path), f"same content as {holder.source} (indexed once)"))
            continue
        if f.doc_id in known:
            old_path, old_source = known[f.doc_id]
            if old_path == f.path:
                unchanged += 1
                if old_source != f.source:  # same file reached from another root
                    renames.append((f.doc_id, f))
            elif _still_there(old_path, f.doc_id, hash_at):
                skipped.append(FileProblem(display(f.path), f"same content as {old_source} (indexed once)"))
                continue
            else:
                renames.append((f.doc_id, f))
        else:
            fresh.append(f)
        claimed[f.doc_id] = f
    new: list[tuple[DocJob, tuple[str, ...]]] = []
    for f in fresh:
        old = by_path.get(f.path)
        replaces = (old,) if old and old not in claimed else ()
        work_dir = catalog.index_dir / "tmp" / f.doc_id[:16]
        new.append((DocJob(f, kinds[f.path], work_dir), replaces))
    renamed = sum(1 for doc_id, f in renames if known[doc_id][0] != f.path)
    return _Plan(new, unchanged, renames, renamed, skipped, set(claimed))


def _still_there(path: Path, doc_id: str, hash_at: dict[Path, str]) -> bool:
    if path in hash_at:
        return hash_at[path] == doc_id
    if not os.path.lexists(path):
        return False
    try:
        return hash_file(path) == doc_id
    except DocumentError:
        return False


def _gone(catalog: Catalog, roots: Sequence[Path], claimed: set[str]) -> list[str]:
    """Documents under the scanned roots whose files no longer exist (``--sync`` removes them)."""
    gone = []
    for doc_id, (path, _) in catalog.locations().items():
        if doc_id in claimed or os.path.lexists(path):
            continue
        if any(path == root or path.is_relative_to(root) for root in roots):
            gone.append(doc_id)
    return sorted(gone)


@contextmanager
def _locked(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / "ingest.lock", "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexLocked(f"{index_dir}: another pagerag process is ingesting into this index") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
