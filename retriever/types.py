"""Values of the retriever layer: embeddings, what an embedder produces, search hits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
Distance = Literal["cosine", "dot", "euclid"]
Mode = Literal["hybrid", "dense", "sparse", "multi", "fusion"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "sparse", "multi", "fusion")
MAX_K = 100
"""The most pages one search returns (a bigger ``k`` is a usage error, not a slow query)."""


@dataclass(frozen=True, slots=True)
class SparseVector:
    """A sparse lexical vector (token ids and weights)."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Embedding:
    """The representations of one page or query.

    Attributes:
        dense: single vector, shape (d,), L2-normalised.
        multi: multi-vector, shape (n, d_multi), rows L2-normalised, or None.
        sparse: lexical vector, or None.
        pooled: cheap first-stage multi-vector derived from ``multi`` (few rows), or None.
    """

    dense: FloatArray
    multi: FloatArray | None = None
    sparse: SparseVector | None = None
    pooled: FloatArray | None = None


@dataclass(frozen=True, slots=True)
class VectorSpec:
    """One named dense vector of the collection."""

    name: str
    dim: int
    distance: Distance = "cosine"
    multivector: bool = False
    datatype: Literal["float32", "float16"] = "float32"
    hnsw: bool = True


@dataclass(frozen=True, slots=True)
class EmbedderSpec:
    """What an embedder produces, so the store can create or validate its collection.

    ``models`` names the models (``{"dense": "e5-small", ...}``) so an index can be
    reopened with the models it was built with.
    """

    dense: VectorSpec
    multi: VectorSpec | None = None
    pooled: VectorSpec | None = None
    sparse: str | None = None
    models: dict[str, str] = field(default_factory=dict)

    @classmethod
    def token_model(cls, dim: int, models: dict[str, str]) -> EmbedderSpec:
        """A token model's vectors: dense, float16 multi (rerank only: no HNSW), float16 pooled."""
        return cls(
            dense=VectorSpec("dense", dim, "cosine"),
            multi=VectorSpec("multi", dim, "cosine", multivector=True, datatype="float16", hnsw=False),
            pooled=VectorSpec("pooled", dim, "cosine", multivector=True, datatype="float16"),
            models=models,
        )


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Restricts a search. Empty fields do not restrict.

    Attributes:
        sources: exact source paths (relative to the ingested root).
        source_glob: fnmatch-style glob over source paths.
        doc_ids: document hashes.
        page_min: first page (1-based, inclusive).
        page_max: last page (inclusive).
        fields: any payload field equal to a value (``--filter key=value``).
    """

    sources: tuple[str, ...] = ()
    source_glob: str | None = None
    doc_ids: tuple[str, ...] = ()
    page_min: int | None = None
    page_max: int | None = None
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved page."""

    source: str
    page: int
    score: float
    text: str
    image_path: Path | None
    doc_id: str
    title: str = ""
    labels: tuple[int, ...] = ()
    """Page numbers printed on the page (its label is the first one)."""

    def snippet(self, width: int = 200) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= width else flat[: width - 1] + "…"
