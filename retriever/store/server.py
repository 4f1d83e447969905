"""The server backend: qdrant-client against a Qdrant server or cluster, or its local mode.

The same code runs against ``QdrantClient(url=...)`` and ``QdrantClient(":memory:")`` /
``QdrantClient(path=...)`` (qdrant-client's local mode), which is how it is tested here.
A server serves readers while another process ingests; the embedded backend cannot.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
from pagerag.retriever.types import EmbedderSpec

_SCROLL_PAGE = 1000
_FACET_LIMIT = 1_000_000


class ClientBackend:
    """One collection through a ``qdrant_client.QdrantClient`` (injected or built by the Store)."""

    def __init__(self, client: Any, collection: str, *, owns_client: bool = False) -> None:
        self.client = client
        self.collection = collection
        self._owns_client = owns_client
        self._engine = translate.client()

    def exists(self) -> bool:
        return bool(self.client.collection_exists(self.collection))

    def create(self, spec: EmbedderSpec) -> None:
        from qdrant_client import models

        distances = {
            "cosine": models.Distance.COSINE,
            "dot": models.Distance.DOT,
            "euclid": models.Distance.EUCLID,
        }
        vectors = {
            v.name: models.VectorParams(
                size=v.dim,
                distance=distances[v.distance],
                multivector_config=(
                    models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
                    if v.multivector
                    else None
                ),
                datatype=models.Datatype.FLOAT16 if v.datatype == "float16" else None,
                hnsw_config=None if v.hnsw else models.HnswConfigDiff(m=0),
            )
            for v in dense_vectors(spec)
        }
        sparse = (
            {spec.sparse: models.SparseVectorParams(modifier=models.Modifier.IDF)} if spec.sparse else None
        )
        self.client.create_collection(self.collection, vectors_config=vectors, sparse_vectors_config=sparse)
        self.index_fields()

    def index_fields(self) -> None:
        import warnings

        from qdrant_client import models

        have = self.client.get_collection(self.collection).payload_schema or {}
        kinds = {**dict.fromkeys(KEYWORD_FIELDS, models.PayloadSchemaType.KEYWORD),
                 **dict.fromkeys(INTEGER_FIELDS, models.PayloadSchemaType.INTEGER)}  # fmt: skip
        with warnings.catch_warnings():  # local mode warns that payload indexes have no effect
            warnings.simplefilter("ignore")
            for name, kind in kinds.items():
                if name not in have:
                    self.client.create_payload_index(self.collection, name, kind)

    def shape(self) -> CollectionShape:
        params = self.client.get_collection(self.collection).config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else {"": params.vectors}
        dense = {
            name: (int(p.size), p.multivector_config is not None) for name, p in (vectors or {}).items() if p
        }
        return CollectionShape(dense, tuple(sorted(params.sparse_vectors or {})))

    def upsert(self, points: Sequence[PointData]) -> None:
        from qdrant_client import models

        batch = [
            models.PointStruct(
                id=p.id, vector={k: self._engine.vector(v) for k, v in p.vectors.items()}, payload=p.payload
            )
            for p in points
        ]
        self.client.upsert(self.collection, points=batch, wait=True)

    def publish(self, doc_id: str, replaces: Sequence[str]) -> None:
        from qdrant_client import models

        # One request: the server applies both operations in order, without a window in
        # which the document has no pages.
        ops: list[Any] = [
            models.SetPayloadOperation(
                set_payload=models.SetPayload(
                    payload={"state": LIVE}, filter=self._engine.filter(Where((Eq("doc_id", doc_id),)))
                )
            )
        ]
        old = tuple(r for r in replaces if r != doc_id)
        if old:
            ops.append(
                models.DeleteOperation(
                    delete=models.FilterSelector(filter=self._engine.filter(Where((AnyOf("doc_id", old),))))
                )
            )
        self.client.batch_update_points(self.collection, update_operations=ops, wait=True)

    def set_payload(self, where: Where, payload: Mapping[str, Any]) -> None:
        self.client.set_payload(
            self.collection, payload=dict(payload), points=self._engine.filter(where), wait=True
        )

    def delete(self, where: Where) -> None:
        from qdrant_client import models

        self.client.delete(
            self.collection,
            points_selector=models.FilterSelector(filter=self._engine.filter(where)),
            wait=True,
        )

    def count(self, where: Where) -> int:
        return int(
            self.client.count(self.collection, count_filter=self._engine.filter(where), exact=True).count
        )

    def facet(self, key: str, where: Where) -> dict[str | int, int]:
        resp = self.client.facet(
            self.collection, key=key, facet_filter=self._engine.filter(where), limit=_FACET_LIMIT, exact=True
        )
        return {h.value: int(h.count) for h in resp.hits}

    def scroll(self, where: Where, fields: Sequence[str]) -> Iterator[dict[str, Any]]:
        offset: Any = None
        while True:
            records, offset = self.client.scroll(
                self.collection,
                scroll_filter=self._engine.filter(where),
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=list(fields),
            )
            for r in records:
                yield dict(r.payload or {})
            if offset is None:
                return

    def query(self, plans: Sequence[Plan]) -> list[list[Scored]]:
        requests = [self._engine.request(plan) for plan in plans]
        responses = self.client.query_batch_points(self.collection, requests=requests)
        return [translate.scored(r.points) for r in responses]

    def optimize(self) -> None:
        return None  # a server optimises in the background

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
