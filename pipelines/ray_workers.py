"""What runs on the Ray cluster for :mod:`pagerag.pipelines.ray_ingest`: CPU tasks and embedding actors.

The tasks wrap the local workers' own functions (:func:`pagerag.ingest.worker.prepare` and
:func:`~pagerag.ingest.worker.render_pages`), so a page comes out of a Ray node exactly as it
comes out of a local worker process. Like them they return values and never raise for a bad
file: the reason travels back as a string.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pagerag.ingest.errors import CollectionMismatch, ConfigError, PageragError
from pagerag.ingest.images_store import ImageStore
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.types import Page
from pagerag.ingest.worker import DocJob, Outcome, Prepared, prepare, render_pages
from pagerag.retriever.types import EmbedderSpec, Embedding

if TYPE_CHECKING:
    from pagerag.retriever.store import Store

ACTOR_PREFIX = "pagerag-embed"
"""Embedding actors are named ``pagerag-embed-<pid>-<run>-<n>`` (in the driver's namespace)."""

Result = tuple[Embedding, ...] | str | None
"""An embedding call's answer for one range: the embeddings, None (written to Qdrant there), or why not."""

_RUNS = count()


@dataclass(frozen=True, slots=True)
class Rendered:
    """A page range as a render task returns it: pages (image paths as in the index) and the image bytes.

    Attributes:
        pages: the pages, their ``image_path`` / ``thumb_path`` already in the driver's image store.
        images: ``(key, image bytes, thumbnail bytes)`` of each distinct page image.
        error: why the range failed ("" when it did not).
    """

    pages: tuple[Page, ...] = ()
    images: tuple[tuple[str, bytes, bytes], ...] = ()
    error: str = ""


# ---------------------------------------------------------------- what runs on the cluster


def prepare_task(job: DocJob, options: IngestOptions, driver_node: str) -> tuple[Outcome, str]:
    """Prepare a document on some node; returns the outcome and that node's id.

    On a node other than the driver's, office conversions go to that node's temporary directory.
    """
    import ray

    node = ray.get_runtime_context().get_node_id()
    if node != driver_node:
        job = replace(job, work_dir=Path(tempfile.gettempdir()) / "pagerag-ray" / job.file.doc_id[:16])
    return prepare(job, options), node


def render_task(
    prepared: Prepared, first: int, last: int, options: IngestOptions, images_root: str
) -> Rendered:
    """Pages ``first``..``last`` of a prepared document, their images read back as bytes."""
    scratch = Path(tempfile.mkdtemp(prefix="pagerag-ray-"))
    try:
        outcome = render_pages(prepared, first, last, options, scratch)
        if outcome.error or not isinstance(outcome.value, tuple):
            return Rendered(error=outcome.error or "no pages")
        here, there = ImageStore(scratch), ImageStore(Path(images_root))
        pages: list[Page] = []
        images: dict[str, tuple[bytes, bytes]] = {}
        for page in outcome.value:
            if page.image_path is not None:
                key = page.image_path.stem
                if key not in images:
                    images[key] = (here.path(key).read_bytes(), here.thumb_path(key).read_bytes())
                page = replace(page, image_path=there.path(key), thumb_path=there.thumb_path(key))
            pages.append(page)
        return Rendered(tuple(pages), tuple((k, a, b) for k, (a, b) in images.items()))
    except OSError as exc:
        return Rendered(error=f"page images could not be read back: {exc}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def remove_dir_task(path: str) -> None:
    """Delete a node's scratch directory (an office conversion)."""
    shutil.rmtree(path, ignore_errors=True)


class EmbedWorker:
    """The body of an embedding actor: the index's models, loaded once.

    ``embed`` returns, for each range, its pages' embeddings, None when the range was written
    to the Qdrant server here (``qdrant``), or the reason it failed.

    Args:
        models: the index's models by role.
        device: torch device for full-size models (None: picked here).
        images: write the page images where the models can read them (visual models).
        qdrant: ``(url, api_key, collection)`` to write the pending points to, or None.
    """

    def __init__(
        self,
        models: dict[str, str],
        device: str | None,
        images: bool,
        qdrant: tuple[str, str | None, str] | None = None,
    ) -> None:
        from pagerag.retriever.embedders.registry import build_embedder

        self._embedder = build_embedder(models, device=device)
        self._images = images
        self.store: Store | None = None  # the Qdrant server the actor writes to
        if qdrant is not None:
            from pagerag.retriever.store import Store

            self.store = Store(url=qdrant[0], api_key=qdrant[1], collection=qdrant[2])
            self.store.ensure(self._embedder.spec)

    def spec(self) -> EmbedderSpec:
        return self._embedder.spec

    def embed(self, *ranges: Rendered) -> list[Result]:
        out: list[Result] = [r.error or "no pages" for r in ranges]
        todo = [i for i, r in enumerate(ranges) if not r.error and r.pages]
        try:
            self._embed_into(out, ranges, todo)
        except PageragError:  # one bad range must not fail the others: embed them one by one
            for i in todo:
                try:
                    self._embed_into(out, ranges, [i])
                except PageragError as exc:
                    out[i] = f"could not store pages: {exc}"
        return out

    def _embed_into(self, out: list[Result], ranges: Sequence[Rendered], todo: Sequence[int]) -> None:
        if not todo:
            return
        chosen = [ranges[i] for i in todo]
        with self._readable(chosen) as shown:
            embeddings = self._embedder.embed_pages(shown)
        start = 0
        for i, r in zip(todo, chosen, strict=True):
            mine = tuple(embeddings[start : start + len(r.pages)])
            start += len(r.pages)
            if self.store is not None:
                self.store.write(self._embedder.spec, r.pages, mine)
            out[i] = None if self.store is not None else mine

    @contextlib.contextmanager
    def _readable(self, ranges: Sequence[Rendered]) -> Iterator[list[Page]]:
        """The pages, their images in a scratch directory here when the models read images."""
        pages = [p for r in ranges for p in r.pages]
        if not self._images:
            yield pages
            return
        scratch = Path(tempfile.mkdtemp(prefix="pagerag-embed-"))
        try:
            for r in ranges:
                for key, data, _thumb in r.images:
                    (scratch / f"{key}.jpg").write_bytes(data)
            yield [replace(p, image_path=scratch / p.image_path.name) if p.image_path else p for p in pages]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


class EmbedPool:
    """The embedding actors of one run; a dead one is replaced by a fresh one in its slot.

    Args:
        ray: the ``ray`` module (connected).
        spec: the index's vectors; the actors' models must give the same.
        resources: the cluster's (``ray.cluster_resources()``).
        actors: how many (None: one per GPU for full-size models, else one).
        gpus_per_actor: None: 1 for full-size models on a cluster with GPUs, else 0.
        cpus_per_actor: CPUs each actor holds while it lives (None: 1 with a GPU, else 0).
        batch: pages per call (None: 8 for full-size models, else ``pages_per_task``).
        device: torch device of full-size models (None: picked on the actor's node).
        qdrant: ``(url, api_key, collection)`` the actors write to, or None.
        pages_per_task: the run's page range size.

    Raises:
        ConfigError: the actors need GPUs that the cluster does not have.
    """

    def __init__(
        self,
        ray: Any,
        spec: EmbedderSpec,
        resources: Mapping[str, float],
        *,
        actors: int | None,
        gpus_per_actor: float | None,
        cpus_per_actor: float | None,
        batch: int | None,
        device: str | None,
        qdrant: tuple[str, str | None, str] | None,
        pages_per_task: int,
    ) -> None:
        from pagerag.retriever.embedders.registry import NONE, ROLES, model_info

        self.ray = ray
        self.spec = spec
        models = {role: spec.models.get(role, NONE) for role in ROLES}  # a role left out stays out
        full_size = any(model_info(name).needs for name in models.values() if name != NONE)
        gpus = resources.get("GPU", 0.0)
        self.gpus = (
            gpus_per_actor if gpus_per_actor is not None else (1.0 if full_size and gpus >= 1 else 0.0)
        )
        if self.gpus > gpus:
            raise ConfigError(
                f"the embedding actors need {self.gpus:g} GPU each; the Ray cluster has {gpus:g}"
            )
        wanted = actors or (int(gpus // self.gpus) if self.gpus else 1)
        # Ray holds one CPU for an actor that names any resource; without a GPU the actor shares
        # the cores with the render tasks, as the local path's embedding shares them with its workers.
        self.cpus = cpus_per_actor if cpus_per_actor is not None else (1.0 if self.gpus else 0.0)
        self.batch = batch or (8 if full_size else max(1, pages_per_task))
        self._args = (models, device, full_size, qdrant)
        self._run = next(_RUNS)
        self._made = count()
        self.actors = [self._make() for _ in range(max(1, wanted))]

    def _make(self) -> Any:
        remote = self.ray.remote(num_cpus=self.cpus, num_gpus=self.gpus, max_restarts=2, max_task_retries=2)(
            EmbedWorker
        )
        name = f"{ACTOR_PREFIX}-{os.getpid()}-{self._run}-{next(self._made)}"
        return remote.options(name=name).remote(*self._args)

    def least_busy(self, load: Iterable[tuple[int, int]]) -> tuple[int, Any]:
        """The slot and actor with the fewest ranges queued, given ``(slot, ranges)`` of each call."""
        queued = [0] * len(self.actors)
        for slot, ranges in load:
            if slot >= 0:
                queued[slot] += ranges
        slot = min(range(len(self.actors)), key=queued.__getitem__)
        return slot, self.actors[slot]

    def replace(self, slot: int, dead: Any) -> None:
        """A fresh actor in ``slot`` if ``dead`` is still there (another failed call may have replaced it)."""
        if self.actors[slot] is not dead:
            return
        with contextlib.suppress(Exception):
            self.ray.kill(dead)
        self.actors[slot] = self._make()

    def check(self, spec: EmbedderSpec) -> None:
        """An actor's vectors against the index's.

        Raises:
            CollectionMismatch: they differ (another pagerag version on that node).
        """
        if spec != self.spec:
            raise CollectionMismatch(
                f"the embedding actors' models {dict(spec.models)} give other vectors than the index "
                "holds: install the same pagerag version on every node"
            )

    def stop(self) -> None:
        for actor in self.actors:
            with contextlib.suppress(Exception):
                self.ray.kill(actor)
