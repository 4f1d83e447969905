"""Ingestion on a Ray cluster: the local plan, Ray tasks to render and read pages, actors to embed.

The driver (this process) plans the run exactly as the local path does
(:func:`pagerag.ingest.pipeline.ingest_paths`: hash every file, then new, changed, renamed or
gone against the catalog) and hands the new documents to a :class:`RayProcessor`:

1. each document is prepared (pages counted, office files converted) in a CPU task;
2. each range of ``pages_per_task`` pages is rendered, read and OCRed in a CPU task, by the code
   the local workers run (:func:`pagerag.ingest.worker.render_pages`); page images come back as
   bytes, so the nodes need not share the index directory;
3. ranges go to a pool of embedding actors that load the index's models once (one GPU each for
   full-size models on a cluster with GPUs), ``embed_batch`` pages per call;
4. the driver, the single writer of the catalog and of the embedded store, writes the results in
   the plan's order (the order of the local path, so the store is built by the same writes and
   answers the same) and publishes each document when its last page is in, with the local path's
   own steps (:mod:`pagerag.ingest.schedule`). With ``qdrant_url`` the actors upsert the pending
   points into the Qdrant server themselves; the driver keeps the catalog and the publish step.

The driver's loop is :mod:`pagerag.pipelines.ray_driver`; the tasks and actors are
:mod:`pagerag.pipelines.ray_workers`.

Every node must read the input files at the paths the driver found them (a shared filesystem).

Ray tasks and actors rather than Ray Data: the driver has to see each document whole (begin it,
count its pages, publish it at once, abandon it on the first bad range), to replace a killed
embedding actor and send its batches again, and to keep few ranges in flight; a Dataset hides
all three behind its operators, converts every page to Arrow and reserves CPUs per operator,
which on small clusters starves the render stage.

Example:
    >>> from pagerag.ingest.pipeline import ingest_paths
    >>> processor = RayProcessor(RayOptions(address="auto"))  # doctest: +SKIP
    >>> ingest_paths([Path("docs")], catalog=catalog, sink=index, options=IngestOptions(),
    ...              processor=processor)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.errors import ConfigError, MissingDependency
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.progress import Progress
from pagerag.ingest.schedule import Tally
from pagerag.ingest.sink import PageSink
from pagerag.ingest.worker import DocJob
from pagerag.pipelines.ray_driver import Run, StagedSink
from pagerag.pipelines.ray_workers import EmbedPool

if TYPE_CHECKING:
    from pagerag.retriever.index import PageIndex

__all__ = ["RayOptions", "RayProcessor", "connected", "ray_processor"]


@dataclass(frozen=True, slots=True)
class RayOptions:
    """Where and how an ingest runs on Ray.

    Attributes:
        address: the cluster: None starts a local Ray (or joins the one running on this machine),
            ``"auto"`` the cluster of ``RAY_ADDRESS``, ``"HOST:PORT"`` or ``"ray://HOST:PORT"`` that one.
        embed_actors: embedding actors (None: one per GPU for full-size models, else one).
        embed_batch: pages per embedding call (None: 8 for full-size models, else ``pages_per_task``).
        gpus_per_actor: GPUs each actor reserves (None: 1 for full-size models on a cluster with GPUs,
            else 0).
        cpus_per_actor: CPUs each actor reserves (None: 1 with a GPU; else 0: the CPU models share
            the cores with the render tasks, as the local path's embedding shares them with its workers).
        device: torch device of the actors' full-size models (None: picked on the actor's node).
        max_inflight: page ranges submitted and not yet written (None: twice the cluster's CPUs); the
            document being written may have as many again of its own.
        qdrant_url: the actors write the vectors straight into this Qdrant server (the index's own).
        qdrant_api_key: that server's key.
        collection: the collection there.

    Example:
        >>> RayOptions(address="auto", embed_actors=4).embed_actors
        4
    """

    address: str | None = None
    embed_actors: int | None = None
    embed_batch: int | None = None
    gpus_per_actor: float | None = None
    cpus_per_actor: float | None = None
    device: str | None = None
    max_inflight: int | None = None
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    collection: str = "pagerag"


class RayProcessor:
    """Renders, embeds and publishes new documents on a Ray cluster (an ``ingest_paths`` processor).

    With a :class:`~pagerag.retriever.index.PageIndex` as the sink, pages are embedded by actors;
    with any other sink (the page table alone) the sink gets the pages on the driver as usual.

    Args:
        options: the cluster and the embedding pool.

    Example:
        >>> report = ingest_paths(paths, catalog=catalog, sink=index, options=IngestOptions(),
        ...                       processor=RayProcessor(RayOptions()))  # doctest: +SKIP
    """

    def __init__(self, options: RayOptions | None = None) -> None:
        self.options = options or RayOptions()

    def __call__(
        self,
        jobs: Sequence[tuple[DocJob, tuple[str, ...]]],
        *,
        catalog: Catalog,
        sink: PageSink,
        options: IngestOptions,
        progress: Progress,
    ) -> Tally:
        if not jobs:
            return Tally()
        index = _page_index(sink)
        if self.options.qdrant_url and (index is None or index.store.embedded):
            raise ConfigError(
                "qdrant_url: the actors can write to a Qdrant server only when the index is there"
            )
        with connected(self.options.address):
            import ray

            resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
            cap = self.options.max_inflight or 2 * max(1, int(resources.get("CPU", 1)))
            if index is None:
                return Run(jobs, catalog, sink, options, progress, pool=None, cap=cap).go()
            pool = _pool(ray, index, self.options, options, resources)
            try:
                staged = StagedSink(index, by_actors=self.options.qdrant_url is not None)
                return Run(jobs, catalog, staged, options, progress, pool=pool, cap=cap).go()
            finally:
                pool.stop()


def ray_processor(ray: RayOptions | str | bool) -> RayProcessor:
    """The processor for ``PageRAG.ingest(ray=...)`` and ``pagerag ingest --ray [ADDRESS]``.

    Args:
        ray: True (or ``""``) for a Ray on this machine, an address (``"auto"``, ``"HOST:PORT"``,
            ``"ray://HOST:PORT"``), or full :class:`RayOptions`.

    Example:
        >>> ray_processor("auto").options.address
        'auto'
    """
    if isinstance(ray, RayOptions):
        return RayProcessor(ray)
    return RayProcessor(RayOptions(address=ray if isinstance(ray, str) and ray else None))


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[None]:
    """Ray, connected: the session already open in this process, or ``address`` (see :class:`RayOptions`).

    A Ray started here is shut down on leaving.

    Raises:
        MissingDependency: ray is not installed.
        ConfigError: no cluster at ``address``.
    """
    try:
        import ray
    except ImportError as exc:
        raise MissingDependency("ray", "ray") from exc
    if ray.is_initialized():
        yield
        return
    quiet = logging.WARNING
    try:
        if address is None:
            try:
                ray.init(address="auto", log_to_driver=False, logging_level=quiet)  # one running here
            except ConnectionError:
                ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level=quiet)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=quiet)
    except ConnectionError as exc:
        raise ConfigError(f"no Ray cluster at {address!r}: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()


def _page_index(sink: PageSink) -> PageIndex | None:
    from pagerag.retriever.index import PageIndex

    return sink if isinstance(sink, PageIndex) else None


def _pool(
    ray: Any, index: PageIndex, options: RayOptions, ingest: IngestOptions, resources: dict[str, float]
) -> EmbedPool:
    qdrant = (options.qdrant_url, options.qdrant_api_key, options.collection) if options.qdrant_url else None
    return EmbedPool(
        ray,
        index.spec,
        resources,
        actors=options.embed_actors,
        gpus_per_actor=options.gpus_per_actor,
        cpus_per_actor=options.cpus_per_actor,
        batch=options.embed_batch,
        device=options.device,
        qdrant=qdrant,
        pages_per_task=ingest.pages_per_task,
    )
