"""The embedded backend: qdrant-edge, the real Qdrant engine in-process, in a directory.

One process at a time may open a directory (:class:`~.lock.DirLock`); concurrent
readers while ingesting need a Qdrant server (:mod:`.server`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pagerag.retriever.store import translate
from pagerag.retriever.store.base import (
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    LIVE,
    AnyOf,
    CollectionShape,
    Eq,
    Plan,
    PointData,
    Scored,
    Where,
    dense_vectors,
)
from pagerag.retriever.store.lock import DirLock
from pagerag.retriever.types import EmbedderSpec

_SCROLL_PAGE = 1000
_FACET_LIMIT = 1_000_000


class EdgeBackend:
    """A qdrant-edge shard in ``path`` (created on first use), locked to this process."""

    def __init__(self, path: Path) -> None:
        import qdrant_edge as qe

        self.path = Path(path)
        self._engine = translate.edge()
        self._lock = DirLock.acquire(self.path)
        self._shard: Any = None
        try:
            if self.exists():
                self._shard = qe.EdgeShard.load(str(self.path))
        except BaseException:
            self._lock.release()
            raise

    def exists(self) -> bool:
        return self._shard is not None or (self.path / "segments").exists()

    def create(self, spec: EmbedderSpec) -> None:
        import qdrant_edge as qe

        vectors: dict[str, Any] = {}
        for v in dense_vectors(spec):
            vectors[v.name] = qe.EdgeVectorParams(
                size=v.dim,
                distance={"cosine": qe.Distance.Cosine, "dot": qe.Distance.Dot, "euclid": qe.Distance.Euclid}[
                    v.distance
                ],
                multivector_config=(
                    qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim) if v.multivector else None
                ),
                datatype=qe.VectorStorageDatatype.Float16 if v.datatype == "float16" else None,
                # m=0: no graph; the full multi-vector is only read to rerank a few candidates.
                hnsw_config=None
                if v.hnsw
                else qe.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10),
            )
        sparse = {spec.sparse: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)} if spec.sparse else None
        self._shard = qe.EdgeShard.create(
            str(self.path), qe.EdgeConfig(vectors=vectors, sparse_vectors=sparse)
        )
        self.index_fields()

    def index_fields(self) -> None:
        # A filter on an unindexed field that matches nothing makes HNSW visit the whole graph (13 -> 35 ms).
        import qdrant_edge as qe

        have = self._shard.info().payload_schema
        kinds = {**dict.fromkeys(KEYWORD_FIELDS, qe.PayloadSchemaType.Keyword),
                 **dict.fromkeys(INTEGER_FIELDS, qe.PayloadSchemaType.Integer)}  # fmt: skip
        for name, kind in kinds.items():
            if name not in have:
                self._shard.update(qe.UpdateOperation.create_field_index(name, kind))

    def shape(self) -> CollectionShape:
        import json

        # The shard persists its config as JSON; the Python binding has no getter for it.
        cfg = json.loads((self.path / "edge_config.json").read_text(encoding="utf-8"))
        dense = {
            name: (int(p["size"]), p.get("multivector_config") is not None)
            for name, p in (cfg.get("vectors") or {}).items()
        }
        return CollectionShape(dense, tuple(sorted(cfg.get("sparse_vectors") or {})))

    def upsert(self, points: Sequence[PointData]) -> None:
        import qdrant_edge as qe

        batch = [
            qe.Point(p.id, {k: self._engine.vector(v) for k, v in p.vectors.items()}, p.payload)
            for p in points
        ]
        self._shard.update(qe.UpdateOperation.upsert_points(batch))

    def publish(self, doc_id: str, replaces: Sequence[str]) -> None:
        # Callers serialise publish against queries (Store's lock), so in this process the two
        # operations are seen as one step: never zero versions, never two.
        self.set_payload(Where((Eq("doc_id", doc_id),)), {"state": LIVE})
        old = tuple(r for r in replaces if r != doc_id)
        if old:
            self.delete(Where((AnyOf("doc_id", old),)))

    def set_payload(self, where: Where, payload: Mapping[str, Any]) -> None:
        import qdrant_edge as qe

        self._shard.update(
            qe.UpdateOperation.set_payload_by_filter(self._engine.filter(where), dict(payload))
        )

    def delete(self, where: Where) -> None:
        import qdrant_edge as qe

        self._shard.update(qe.UpdateOperation.delete_points_by_filter(self._engine.filter(where)))

    def count(self, where: Where) -> int:
        import qdrant_edge as qe

        return int(self._shard.count(qe.CountRequest(exact=True, filter=self._engine.filter(where))))

    def facet(self, key: str, where: Where) -> dict[str | int, int]:
        import qdrant_edge as qe

        resp = self._shard.facet(
            qe.FacetRequest(key, limit=_FACET_LIMIT, exact=True, filter=self._engine.filter(where))
        )
        return {h.value: int(h.count) for h in resp}

    def scroll(self, where: Where, fields: Sequence[str]) -> Iterator[dict[str, Any]]:
        import qdrant_edge as qe

        offset: Any = None
        while True:
            records, offset = self._shard.scroll(
                qe.ScrollRequest(
                    offset=offset,
                    limit=_SCROLL_PAGE,
                    filter=self._engine.filter(where),
                    with_payload=list(fields),
                )
            )
            for r in records:
                yield dict(r.payload or {})
            if offset is None:
                return

    def query(self, plans: Sequence[Plan]) -> list[list[Scored]]:
        import qdrant_edge as qe

        requests = [self._engine.request(plan) for plan in plans]
        if len(requests) == 1:
            results = [self._shard.query(requests[0])]
        else:
            results = self._shard.query_batch(qe.QueryBatchRequest(requests))
        return [translate.scored(res) for res in results]

    def optimize(self) -> None:
        self._shard.optimize()

    def close(self) -> None:
        try:
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None
        finally:
            self._lock.release()
