"""The query plan of :mod:`.base` in an engine's own model classes, written once for both backends.

qdrant-edge and qdrant-client's ``models`` spell a plan nearly alike: ``FieldCondition``,
``MatchValue``, ``MatchAny``, ``Filter``, ``SparseVector``, ``Prefetch`` and ``QueryRequest``
take the same keywords. An :class:`Engine` names the module and the few places they differ
(the range class, how a query is spelled, the prefetch keyword); the walk over a
:class:`~.base.Where` or a :class:`~.base.Stage` is the same for both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pagerag.retriever.store.base import (
    AnyOf,
    Cond,
    Dbsf,
    Eq,
    Nearest,
    Plan,
    Rrf,
    Scored,
    Sparse,
    Stage,
    Where,
    match_values,
)


@dataclass(frozen=True, slots=True)
class Engine:
    """How one engine builds filters, vectors and queries.

    Example:
        >>> edge().filter(Where((Eq("state", "live"),))).must[0].key
        'state'
    """

    models: Any
    """The module holding the classes both engines spell alike."""
    range: Callable[..., Any]
    """The class of a float ``gte``/``lte`` range."""
    nearest: Callable[[Any, str], dict[str, Any]]
    """``(vector, using)`` -> the stage's keywords; an engine names the vector in the query or beside it."""
    rrf: Callable[[int, list[float] | None], Any]
    dbsf: Callable[[], Any]
    prefetch_key: str
    """The keyword under which a stage takes its prefetches."""

    def vector(self, value: Any) -> Any:
        """A named vector as the engine takes it (numpy arrays as float32 lists)."""
        if isinstance(value, Sparse):
            return self.models.SparseVector(indices=value.indices, values=value.values)
        if isinstance(value, np.ndarray):
            return value.astype(np.float32, copy=False).tolist()
        return value

    def cond(self, c: Cond) -> Any:
        m = self.models
        if isinstance(c, Eq):
            return m.FieldCondition(key=c.key, match=m.MatchValue(value=c.value))
        if isinstance(c, AnyOf):
            return m.FieldCondition(key=c.key, match=m.MatchAny(any=match_values(c)))
        return m.FieldCondition(
            key=c.key,
            range=self.range(
                gte=None if c.gte is None else float(c.gte), lte=None if c.lte is None else float(c.lte)
            ),
        )

    def filter(self, where: Where) -> Any:
        return self.models.Filter(
            must=[self.cond(c) for c in where.must] or None,
            must_not=[self.cond(c) for c in where.must_not] or None,
        )

    def request(self, plan: Plan) -> Any:
        """One query request: the plan's stages, each filtered by its ``where``."""
        return self.models.QueryRequest(**self._stage(plan.stage, plan.where), with_payload=True)

    def _stage(self, stage: Stage, where: Where) -> dict[str, Any]:
        where = where.both(stage.where)
        prefetch = [self.models.Prefetch(**self._stage(p, where)) for p in stage.prefetch]
        return {
            **self._query(stage.query),
            "limit": stage.limit,
            self.prefetch_key: prefetch or None,
            "filter": self.filter(where),
        }

    def _query(self, q: Nearest | Rrf | Dbsf) -> dict[str, Any]:
        if isinstance(q, Dbsf):
            return {"query": self.dbsf()}
        if isinstance(q, Rrf):
            return {"query": self.rrf(q.k, list(q.weights) if q.weights else None)}
        return self.nearest(self.vector(q.vector), q.using)


def scored(points: Iterable[Any]) -> list[Scored]:
    """An engine's scored points as :class:`~.base.Scored`."""
    return [Scored(str(p.id), float(p.score), dict(p.payload or {})) for p in points]


@functools.cache
def edge() -> Engine:
    """qdrant-edge: the vector is named inside the query."""
    import qdrant_edge as qe

    return Engine(
        models=qe,
        range=qe.RangeFloat,
        nearest=lambda vector, using: {"query": qe.Query.Nearest(vector, using=using)},
        rrf=lambda k, weights: qe.Fusion.Rrf(k=k, weights=weights),
        dbsf=qe.Fusion.Dbsf,
        prefetch_key="prefetches",
    )


@functools.cache
def client() -> Engine:
    """qdrant-client: the vector is named beside the query, as the stage's ``using``."""
    from qdrant_client import models

    return Engine(
        models=models,
        range=models.Range,
        nearest=lambda vector, using: {"query": models.NearestQuery(nearest=vector), "using": using},
        rrf=lambda k, weights: models.RrfQuery(rrf=models.Rrf(k=k, weights=weights)),
        dbsf=lambda: models.FusionQuery(fusion=models.Fusion.DBSF),
        prefetch_key="prefetch",
    )
