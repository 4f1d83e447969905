"""`Store`: pages and their vectors in Qdrant, whichever engine holds them."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import CollectionMismatch
from pagerag.ingest.types import DocumentInfo, Page
from pagerag.retriever.store.base import (
    LIVE,
    LIVE_ONLY,
    PENDING,
    AnyOf,
    Backend,
    CollectionShape,
    Eq,
    Plan,
    PointData,
    Scored,
    Where,
    now_iso,
    page_payload,
    point_id,
    point_vectors,
)
from pagerag.retriever.types import EmbedderSpec, Embedding

REINDEX_HINT = (
    "re-index: run `pagerag ingest` into a new --index directory (or delete this one), "
    "or open it with the models it was built with"
)
_UPSERT_BATCH = 32


class Store:
    """Pages as Qdrant points; the backend is picked from the arguments, like ``QdrantClient``.

    * ``Store(path)``: the embedded engine (qdrant-edge) in ``path``; one process at a time.
    * ``Store(url="http://host:6333", api_key=...)``: a Qdrant server or cluster.
    * ``Store(url=":memory:")`` or ``Store(client=QdrantClient(path=...))``: qdrant-client's
      local mode (tests, small experiments).

    All reads see live pages only; see :mod:`pagerag.retriever.store.base`.

    Example:
        >>> store = Store(Path(".pagerag/qdrant"))  # doctest: +SKIP
        >>> store.ensure(embedder.spec)  # doctest: +SKIP
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
        collection: str = "pagerag",
    ) -> None:
        self._lock = threading.RLock()
        self.backend: Backend
        if client is not None:
            from pagerag.retriever.store.server import ClientBackend

            self.backend = ClientBackend(client, collection)
        elif url is not None:
            from qdrant_client import QdrantClient

            from pagerag.retriever.store.server import ClientBackend

            qc = QdrantClient(":memory:") if url == ":memory:" else QdrantClient(url=url, api_key=api_key)
            self.backend = ClientBackend(qc, collection, owns_client=True)
        elif path is not None:
            from pagerag.retriever.store.edge import EdgeBackend

            self.backend = EdgeBackend(Path(path))
        else:
            raise ValueError("Store needs a path (embedded), a url or a client")
        self.embedded = path is not None and url is None and client is None

    # ------------------------------------------------------------ schema

    def ensure(self, spec: EmbedderSpec) -> None:
        """Create the collection for ``spec``, or check that the existing one fits it.

        Raises:
            CollectionMismatch: the collection holds other vectors than ``spec`` produces.
        """
        with self._lock:
            if not self.backend.exists():
                self.backend.create(spec)
                return
            have, want = self.backend.shape(), CollectionShape.of(spec)
            if have != want:
                raise CollectionMismatch(
                    f"the vector store holds [{have.describe()}] but the embedder produces "
                    f"[{want.describe()}]: {REINDEX_HINT}"
                )
            self.backend.index_fields()  # a collection from before a field was indexed gets its index now

    # ------------------------------------------------------------ writes

    def write(self, spec: EmbedderSpec, pages: Sequence[Page], embeddings: Sequence[Embedding]) -> None:
        """Upsert pages. New documents stay pending (invisible) until :meth:`publish`.

        Pages of a document that is already live (the same content written again) are
        overwritten in place and stay visible: the point ids are the same.
        """
        if len(pages) != len(embeddings):
            raise ValueError(f"{len(pages)} pages but {len(embeddings)} embeddings")
        stamp = now_iso()
        with self._lock:
            live = {d for d in {p.doc_id for p in pages} if self.is_live(d)}
            points = [
                PointData(
                    point_id(p.doc_id, p.page),
                    point_vectors(spec, e),
                    page_payload(p, state=LIVE if p.doc_id in live else PENDING, indexed_at=stamp),
                )
                for p, e in zip(pages, embeddings, strict=True)
            ]
            for i in range(0, len(points), _UPSERT_BATCH):
                self.backend.upsert(points[i : i + _UPSERT_BATCH])

    def publish(self, doc_id: str, replaces: Sequence[str] = ()) -> None:
        """Make all of ``doc_id``'s pages visible and drop ``replaces``' pages in the same step."""
        with self._lock:
            self.backend.publish(doc_id, tuple(replaces))

    def remove(self, doc_ids: Sequence[str]) -> None:
        """Delete every page (live or pending) of these documents."""
        if doc_ids:
            with self._lock:
                self.backend.delete(Where((AnyOf("doc_id", tuple(doc_ids)),)))

    def rename(self, doc_id: str, source: str) -> None:
        """Give a document's pages a new source path (a moved file; no re-embedding)."""
        with self._lock:
            self.backend.set_payload(Where((Eq("doc_id", doc_id),)), {"source": source})

    def discard_pending(self) -> int:
        """Delete pages written but never published (left by a crash); returns how many."""
        with self._lock:
            where = Where((Eq("state", PENDING),))
            n = self.backend.count(where)
            if n:
                self.backend.delete(where)
            return n

    # ------------------------------------------------------------ reads (live pages only)

    def is_live(self, doc_id: str) -> bool:
        with self._lock:
            return self.backend.count(LIVE_ONLY.and_(Eq("doc_id", doc_id))) > 0

    def published_doc_ids(self) -> set[str]:
        with self._lock:
            return {str(v) for v in self.backend.facet("doc_id", LIVE_ONLY)}

    def sources(self) -> list[str]:
        with self._lock:
            return sorted(str(v) for v in self.backend.facet("source", LIVE_ONLY))

    def count(self, where: Where = LIVE_ONLY) -> int:
        with self._lock:
            return self.backend.count(where)

    def documents(self) -> list[DocumentInfo]:
        """The live documents, by source path (read from each document's page 1)."""
        fields = ("doc_id", "source", "page_count", "title", "indexed_at")
        with self._lock:
            rows = list(self.backend.scroll(LIVE_ONLY.and_(Eq("page", 1)), fields))
        docs = [
            DocumentInfo(
                doc_id=str(r["doc_id"]),
                source=str(r["source"]),
                pages=int(r.get("page_count", 0)),
                title=str(r.get("title", "")),
                indexed_at=str(r.get("indexed_at", "")),
            )
            for r in rows
        ]
        return sorted(docs, key=lambda d: d.source)

    def query(self, plans: Sequence[Plan]) -> list[list[Scored]]:
        """Run query plans over live pages, one result list per plan (one batch call)."""
        live = [Plan(p.stage, p.where.and_(Eq("state", LIVE))) for p in plans]
        todo = [i for i, p in enumerate(live) if not p.where.matches_nothing()]
        out: list[list[Scored]] = [[] for _ in plans]
        if todo:
            with self._lock:
                results = self.backend.query([live[i] for i in todo])
            for i, res in zip(todo, results, strict=True):
                out[i] = sorted(res, key=_rank_key)  # equal scores in a fixed order, run after run
        return out

    def optimize(self) -> None:
        """Build the vector indexes now (the embedded engine does not do it in the background)."""
        with self._lock:
            self.backend.optimize()

    def close(self) -> None:
        with self._lock:
            self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rank_key(point: Scored) -> tuple[float, str, int]:
    """Best score first; ties by source path and page (the engine's fusion leaves their order open)."""
    return (-point.score, str(point.payload.get("source", "")), int(point.payload.get("page", 0)))
