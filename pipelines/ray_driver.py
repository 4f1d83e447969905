"""The driver of :mod:`pagerag.pipelines.ray_ingest`: what it submits, and how it writes what comes back.

One :class:`Run` per hand-over of new documents: it prepares documents, submits page ranges to
render tasks and embedding actors with a bound on what is in flight, and writes the results with
the local path's per-document steps (:mod:`pagerag.ingest.schedule`): begin (pending), pages,
publish and complete, or abandon.
"""

from __future__ import annotations

import os
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.errors import ModelError
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.progress import Progress
from pagerag.ingest.scan import display
from pagerag.ingest.schedule import (
    DocState,
    Tally,
    begin_document,
    cleanup_document,
    finish_document,
    write_pages,
)
from pagerag.ingest.sink import PageSink
from pagerag.ingest.types import DocumentInfo, FileProblem, Page
from pagerag.ingest.worker import DocJob, Outcome, Prepared
from pagerag.pipelines.ray_workers import (
    EmbedPool,
    Rendered,
    Result,
    prepare_task,
    remove_dir_task,
    render_task,
)
from pagerag.retriever.types import Embedding

if TYPE_CHECKING:
    from pagerag.retriever.index import PageIndex

CRASHED = "a worker process crashed on this file"
"""The reason of a document whose task's process died (the local path's words)."""

_ACTOR_TRIES = 3


class StagedSink:
    """The index as the sink of pages embedded by the actors: ``write`` stores the vectors staged for them.

    Args:
        index: the open index.
        by_actors: the actors upsert the points into the index's Qdrant server themselves; ``write``
            then leaves the store alone.
    """

    def __init__(self, index: PageIndex, *, by_actors: bool = False) -> None:
        self.index = index
        self.by_actors = by_actors
        self._staged: dict[tuple[str, int], Embedding] = {}

    def stage(self, pages: Sequence[Page], embeddings: Sequence[Embedding]) -> None:
        self._staged.update(((p.doc_id, p.page), e) for p, e in zip(pages, embeddings, strict=True))

    def write(self, doc: DocumentInfo, pages: Sequence[Page]) -> None:
        if not self.by_actors:
            embeddings = [self._staged.pop((p.doc_id, p.page)) for p in pages]
            self.index.store.write(self.index.spec, pages, embeddings)

    def publish(self, doc_id: str, replaces: Sequence[str] = ()) -> None:
        self.index.publish(doc_id, replaces)

    def remove(self, doc_ids: Sequence[str]) -> None:
        self.index.remove(doc_ids)

    def rename(self, doc_id: str, source: str) -> None:
        self.index.rename(doc_id, source)

    def published_doc_ids(self) -> set[str]:
        return self.index.published_doc_ids()

    def close(self) -> None:
        return None


@dataclass
class _Range:
    doc: int
    index: int  # its place among the document's ranges
    first: int
    last: int
    rendered: Any = None  # the render task's ObjectRef


@dataclass
class _Call:
    ranges: list[_Range]
    actor: int = -1  # the pool slot, -1: no actor (the ref is the render task's)
    handle: Any = None  # the actor the call went to
    tries: int = 1


class Run:
    """One hand-over of new documents to the cluster.

    With a ``pool`` of embedding actors the ``sink`` is a :class:`StagedSink`; without one, any sink
    (the page table alone). ``cap`` bounds the page ranges in flight.

    Results come back in any order; they are written in the plan's order (document by document,
    range by range), the order of the local path, so that the store is built by the same sequence
    of writes (an HNSW graph depends on the order of its inserts) and answers the same. Ranges not
    yet written count against ``cap``, except those of the document being written, which may
    always have that many of their own in flight (so it never waits on later ones).
    """

    def __init__(
        self,
        jobs: Sequence[tuple[DocJob, tuple[str, ...]]],
        catalog: Catalog,
        sink: PageSink,
        options: IngestOptions,
        progress: Progress,
        *,
        pool: EmbedPool | None,
        cap: int,
    ) -> None:
        import ray

        self.ray = ray
        self.docs = [DocState(job, replaces) for job, replaces in jobs]
        self.catalog, self.sink, self.options, self.progress = catalog, sink, options, progress
        self.pool, self.cap = pool, cap
        self.tally = Tally()
        self.driver_node = ray.get_runtime_context().get_node_id()
        self.step = max(1, options.pages_per_task)
        self.batch = pool.batch if pool is not None else self.step
        self.images = catalog.images
        self.next_doc = 0  # the next document to prepare
        self.head = 0  # the document being written
        self.begun = -1  # the last document begun in the catalog
        self.written = 0  # ranges of the head document written
        self.node: dict[int, str] = {}  # where each prepared document was prepared
        self.ranges: dict[int, int] = {}  # how many ranges each prepared document has
        self.todo: dict[int, deque[_Range]] = {}  # ranges to submit, by document
        self.open: Counter[int] = Counter()  # ranges submitted and not yet written, by document
        self.done: dict[tuple[int, int], tuple[_Range, Result]] = {}  # back, waiting for their turn
        self.preparing: dict[Any, int] = {}
        self.calls: dict[Any, _Call] = {}
        self.checks = {a.spec.remote(): n for n, a in enumerate(pool.actors)} if pool is not None else {}
        self._prepare = ray.remote(num_cpus=1, max_retries=1)(prepare_task)
        self._render = ray.remote(num_cpus=1, max_retries=1)(render_task)
        self._remove_dir = ray.remote(num_cpus=0)(remove_dir_task)

    def go(self) -> Tally:
        while True:
            self._fill()
            waiting = [*self.checks, *self.preparing, *self.calls]
            if not waiting:
                assert self.head == len(self.docs), "every document was written"
                return self.tally
            self.ray.wait(waiting, num_returns=1)
            ready, _ = self.ray.wait(waiting, num_returns=len(waiting), timeout=0)
            for ref in ready:  # in the order of ``waiting``: an actor's check before its results
                if ref in self.checks:
                    self._check(ref)
                elif ref in self.preparing:
                    self._prepared(ref, self.preparing.pop(ref))
                else:
                    self._called(ref, self.calls.pop(ref))
            self._drain()

    # ------------------------------------------------------------ submitting

    def _fill(self) -> None:
        ahead = max(2, self.cap // 2)  # documents prepared ahead of the ranges submitted
        while self.next_doc < len(self.docs) and len(self.preparing) + len(self.todo) < ahead:
            ref = self._prepare.remote(self.docs[self.next_doc].job, self.options, self.driver_node)
            self.preparing[ref] = self.next_doc
            self.next_doc += 1
        group: list[_Range] = []
        for k in sorted(self.todo):
            queue = self.todo[k]
            while queue and self.open[k] < self.cap and (k == self.head or self.open.total() < self.cap):
                r = queue.popleft()
                r.rendered = self._submit_render(r)
                self.open[k] += 1
                group.append(r)
                if sum(x.last - x.first + 1 for x in group) >= self.batch:
                    self._dispatch(_Call(group))
                    group = []
            if not queue:
                del self.todo[k]
        if group:
            self._dispatch(_Call(group))

    def _submit_render(self, r: _Range) -> Any:
        prepared = self.docs[r.doc].prepared
        assert prepared is not None
        task = self._render
        if prepared.pdf is not None and prepared.pdf != prepared.job.file.path:
            # a converted office file: its PDF is on the node that prepared it
            task = task.options(scheduling_strategy=self._on_node(self.node[r.doc]))
        return task.remote(prepared, r.first, r.last, self.options, str(self.images.root))

    def _dispatch(self, call: _Call) -> None:
        if self.pool is None:
            for r in call.ranges:
                self.calls[r.rendered] = _Call([r])
            return
        call.actor, call.handle = self.pool.least_busy((c.actor, len(c.ranges)) for c in self.calls.values())
        self.calls[call.handle.embed.remote(*(r.rendered for r in call.ranges))] = call

    def _on_node(self, node: str) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        return NodeAffinitySchedulingStrategy(node_id=node, soft=False)

    # ------------------------------------------------------------ results

    def _check(self, ref: Any) -> None:
        self.checks.pop(ref)
        assert self.pool is not None
        try:
            spec = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            raise ModelError(f"the embedding actors could not load the index's models: {exc}") from exc
        self.pool.check(spec)

    def _prepared(self, ref: Any, k: int) -> None:
        doc = self.docs[k]
        try:
            outcome, node = self.ray.get(ref)
        except self.ray.exceptions.RayError:
            outcome, node = Outcome(None, CRASHED), self.driver_node
        if outcome.error or not isinstance(outcome.value, Prepared):
            doc.error = outcome.error or "could not be prepared"
            self.ranges[k] = -1
            return
        doc.prepared = outcome.value
        self.node[k] = node
        count = doc.prepared.page_count
        firsts = range(1, count + 1, self.step)
        self.ranges[k] = len(firsts)
        if firsts:
            self.todo[k] = deque(
                _Range(k, n, first, min(first + self.step - 1, count)) for n, first in enumerate(firsts)
            )

    def _called(self, ref: Any, call: _Call) -> None:
        ray = self.ray
        results: list[Result]
        try:
            results = ray.get(ref) if call.actor >= 0 else [None]
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            assert self.pool is not None
            self.pool.replace(call.actor, call.handle)
            if call.tries < _ACTOR_TRIES:
                call.tries += 1
                self._dispatch(call)
                return
            results = [f"the embedding actor died {call.tries} times on these pages"] * len(call.ranges)
        except ray.exceptions.RayError as exc:  # a render task crashed, or the actor call failed
            crashed = [self._crashed(r) for r in call.ranges]
            if any(crashed) and not all(crashed) and call.tries < _ACTOR_TRIES:
                for r, bad in zip(call.ranges, crashed, strict=True):
                    if bad:
                        self.done[r.doc, r.index] = (r, CRASHED)
                call.ranges = [r for r, bad in zip(call.ranges, crashed, strict=True) if not bad]
                call.tries += 1
                self._dispatch(call)  # the other ranges of the batch are fine: embed them again
                return
            results = [CRASHED if bad else f"could not store pages: {exc}" for bad in crashed]
        for r, result in zip(call.ranges, results, strict=True):
            self.done[r.doc, r.index] = (r, result)

    def _crashed(self, r: _Range) -> bool:
        ready, _ = self.ray.wait([r.rendered], timeout=0)
        if not ready:
            return False
        try:
            self.ray.get(r.rendered)
        except self.ray.exceptions.RayError:
            return True
        return False

    # ------------------------------------------------------------ writing, in the plan's order

    def _drain(self) -> None:
        """Write what is back, in order, up to the first range (or document) still out."""
        while self.head < len(self.docs) and self.head in self.ranges:
            k, doc = self.head, self.docs[self.head]
            if self.ranges[k] < 0:  # could not be prepared
                self.tally.failed.append(FileProblem(display(doc.job.file.path), doc.error))
                cleanup_document(doc)
                self.progress.file_done()
            else:
                if self.begun != k:
                    begin_document(doc, self.catalog, self.progress)
                    self.begun = k
                while self.written < self.ranges[k]:
                    item = self.done.pop((k, self.written), None)
                    if item is None:
                        return
                    self._write(*item)
                    self.open[k] -= 1
                    self.written += 1
                self._finish(k)
            self.head += 1
            self.written = 0

    def _write(self, r: _Range, result: Result) -> None:
        doc = self.docs[r.doc]
        try:
            rendered: Rendered = self.ray.get(r.rendered)
        except self.ray.exceptions.RayError:
            rendered = Rendered(error=CRASHED)
        if doc.error:
            return
        if rendered.error or isinstance(result, str):
            doc.error = rendered.error or str(result)
            return
        self._save_images(rendered)
        if isinstance(self.sink, StagedSink) and isinstance(result, tuple):
            self.sink.stage(rendered.pages, result)
        write_pages(doc, rendered.pages, self.catalog, self.sink, self.progress)

    def _finish(self, k: int) -> None:
        doc = self.docs[k]
        finish_document(doc, self.catalog, self.sink, self.tally)
        self.progress.file_done()
        prepared = doc.prepared
        if prepared is not None and prepared.job.work_dir != doc.job.work_dir:
            strategy = self._on_node(self.node[k])
            self._remove_dir.options(scheduling_strategy=strategy).remote(str(prepared.job.work_dir))

    def _save_images(self, rendered: Rendered) -> None:
        """Put the range's page images in the index's image store (atomic writes, content-addressed)."""
        for key, data, thumb in rendered.images:
            target = self.images.path(key)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            for path, blob in ((self.images.thumb_path(key), thumb), (target, data)):
                tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
                tmp.write_bytes(blob)
                os.replace(tmp, path)
