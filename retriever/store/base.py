"""What both store backends share: point ids, payload, a neutral filter and query plan.

The two backends (:mod:`.edge`, the embedded engine, and :mod:`.server`, qdrant-client
against a server or its local mode) translate these neutral values into their own
model classes, so the behaviour is defined once, here, and tested on both.

Visibility: every point carries a keyword ``state``. Pages are written ``pending``
and become ``live`` when their document is published; every search filters on
``state = live``. That is how a document appears (and a replaced one disappears)
all at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pagerag.ingest.types import Page
from pagerag.retriever.types import EmbedderSpec, Embedding, VectorSpec

NAMESPACE = uuid.UUID("6f1d4c2a-8e0b-5a7c-9d3e-2b4f6a8c0e1d")
"""uuid5 namespace of point ids: ``uuid5(NAMESPACE, f"{doc_id}:{page}")``."""

PENDING = "pending"
LIVE = "live"

KEYWORD_FIELDS = ("doc_id", "source", "state", "lang")
INTEGER_FIELDS = ("page", "labels", "chars")
INT_PAYLOAD = frozenset({"page", "page_count", "ocr", "labels", "chars"})
"""Payload fields stored as integers (a ``--filter page=3`` value is converted)."""


def point_id(doc_id: str, page: int) -> str:
    """The deterministic id of a page's point: re-writing a page overwrites it.

    Example:
        >>> point_id("ab12", 1) == point_id("ab12", 1)
        True
    """
    return str(uuid.uuid5(NAMESPACE, f"{doc_id}:{page}"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def text_chars(text: str) -> int:
    """The letters and digits in a page's text: 0 for a page a text model cannot read.

    Example:
        >>> text_chars(" - 3 -\n"), text_chars("")
        (1, 0)
    """
    return sum(ch.isalnum() for ch in text)


def page_payload(page: Page, *, state: str, indexed_at: str) -> dict[str, Any]:
    """The payload stored with a page's point."""
    return {
        "doc_id": page.doc_id,
        "source": page.source,
        "page": page.page,
        "page_count": page.page_count,
        "title": page.title,
        "text": page.text,
        "chars": text_chars(page.text),
        "ocr": int(page.ocr_used),
        # The image's key (its file name in the index's image store), never a path: an index can move.
        "image": page.image_path.name if page.image_path else "",
        "lang": page.lang,
        "labels": list(page.labels),
        "indexed_at": indexed_at,
        "state": state,
    }


# ---------------------------------------------------------------- neutral filter


@dataclass(frozen=True, slots=True)
class Eq:
    """``key == value``."""

    key: str
    value: str | int


@dataclass(frozen=True, slots=True)
class AnyOf:
    """``key`` is one of ``values`` (an empty tuple matches nothing)."""

    key: str
    values: tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Between:
    """``gte <= key <= lte`` (either end open when None)."""

    key: str
    gte: int | None = None
    lte: int | None = None


Cond = Eq | AnyOf | Between


def match_values(c: AnyOf) -> list[Any]:
    return list(c.values)


@dataclass(frozen=True, slots=True)
class Where:
    """All of ``must`` and none of ``must_not``."""

    must: tuple[Cond, ...] = ()
    must_not: tuple[Cond, ...] = ()

    def and_(self, *conds: Cond) -> Where:
        return Where(self.must + conds, self.must_not)

    def both(self, other: Where) -> Where:
        """The points matching this and ``other``."""
        return Where(self.must + other.must, self.must_not + other.must_not)

    def matches_nothing(self) -> bool:
        return any(isinstance(c, AnyOf) and not c.values for c in self.must)


LIVE_ONLY = Where((Eq("state", LIVE),))
HAS_TEXT = Where(must_not=(Between("chars", lte=0),))
"""The pages with text, the only ones a text model can read (``chars`` above 0; in an index written
before the field, where a range matches no page, every page)."""


# ---------------------------------------------------------------- neutral query plan

Dense = list[float]
Multi = list[list[float]]


@dataclass(frozen=True, slots=True)
class Sparse:
    indices: list[int]
    values: list[float]


@dataclass(frozen=True, slots=True)
class Nearest:
    """Score by similarity to ``vector`` on the named vector ``using``."""

    using: str
    vector: Dense | Multi | Sparse


@dataclass(frozen=True, slots=True)
class Rrf:
    """Reciprocal rank fusion of the prefetch results."""

    k: int = 60
    weights: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class Dbsf:
    """Distribution-based score fusion: each list's scores normalised (mean +- 3 std), then summed."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a plan: its prefetches run first, then ``query`` ranks their union.

    ``where`` narrows this stage and its prefetches further than the plan's filter (the pages
    of one language, for a signal that only works there).
    """

    query: Nearest | Rrf | Dbsf
    limit: int
    prefetch: tuple[Stage, ...] = ()
    where: Where = Where()


@dataclass(frozen=True, slots=True)
class Plan:
    """One query: ``stage`` (its limit is k) over the points matching ``where``."""

    stage: Stage
    where: Where = Where()


@dataclass(frozen=True, slots=True)
class Scored:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PointData:
    """A point to upsert: named vectors (numpy arrays converted by the backend) and payload."""

    id: str
    vectors: dict[str, Any]
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CollectionShape:
    """The vector layout of a collection, compared to decide ``CollectionMismatch``."""

    dense: dict[str, tuple[int, bool]] = field(default_factory=dict)  # name -> (dim, multivector)
    sparse: tuple[str, ...] = ()

    @staticmethod
    def of(spec: EmbedderSpec) -> CollectionShape:
        return CollectionShape(
            {v.name: (v.dim, v.multivector) for v in dense_vectors(spec)},
            (spec.sparse,) if spec.sparse else (),
        )

    def describe(self) -> str:
        parts = [f"{n} {d}-d{' multi' if m else ''}" for n, (d, m) in sorted(self.dense.items())]
        parts += [f"{n} sparse" for n in self.sparse]
        return ", ".join(parts)


def dense_vectors(spec: EmbedderSpec) -> list[VectorSpec]:
    """The spec's named dense (single or multi) vectors, in a fixed order."""
    return [v for v in (spec.dense, spec.multi, spec.pooled) if v is not None]


def point_vectors(spec: EmbedderSpec, emb: Embedding) -> dict[str, Any]:
    """The named vectors of one page; absent or empty parts are left out (Qdrant allows it)."""
    out: dict[str, Any] = {spec.dense.name: emb.dense}
    for vs, arr in ((spec.multi, emb.multi), (spec.pooled, emb.pooled)):
        if vs is not None and arr is not None and len(arr):
            out[vs.name] = arr
    if spec.sparse and emb.sparse is not None and emb.sparse.indices:
        out[spec.sparse] = Sparse(list(emb.sparse.indices), list(emb.sparse.values))
    return out


class Backend(Protocol):
    """What :class:`~pagerag.retriever.store.Store` needs from an engine.

    Two implementations: :class:`~.edge.EdgeBackend` (embedded qdrant-edge) and
    :class:`~.server.ClientBackend` (qdrant-client: a server, or its local mode).
    """

    def exists(self) -> bool: ...

    def create(self, spec: EmbedderSpec) -> None: ...

    def shape(self) -> CollectionShape: ...

    def index_fields(self) -> None:
        """Add the payload indexes of the filtered fields that an older collection lacks."""
        ...

    def upsert(self, points: Sequence[PointData]) -> None: ...

    def publish(self, doc_id: str, replaces: Sequence[str]) -> None:
        """Set ``doc_id``'s pages live and delete ``replaces``' pages, as one step as far as possible."""
        ...

    def set_payload(self, where: Where, payload: Mapping[str, Any]) -> None: ...

    def delete(self, where: Where) -> None: ...

    def count(self, where: Where) -> int: ...

    def facet(self, key: str, where: Where) -> dict[str | int, int]: ...

    def scroll(self, where: Where, fields: Sequence[str]) -> Iterator[dict[str, Any]]: ...

    def query(self, plans: Sequence[Plan]) -> list[list[Scored]]:
        """Run the plans (as one batch where the engine can), one result list per plan."""
        ...

    def optimize(self) -> None: ...

    def close(self) -> None: ...
