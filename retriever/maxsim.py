"""Late-interaction scoring and multi-vector size reduction, in numpy.

Shared by every embedder and by the rerank step: MaxSim, L2 normalisation,
Matryoshka truncation, mean pooling by groups of tokens (the cheap first-stage
multi-vector) and hierarchical token pooling (fewer stored vectors per page).

Example:
    >>> import numpy as np
import numpy.typing as npt
    >>> q = normalize(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    >>> d = normalize(np.array([[1.0, 0.0], [1.0, 1.0]], dtype=np.float32))
    >>> round(maxsim(q, d), 3)
    1.707
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pagerag.retriever.types import Embedding, FloatArray

_EPS = 1e-12
POOL_GROUP = 16
"""Token rows averaged into one row of the pooled first-stage multi-vector."""
POOL_FACTOR = 2
"""Hierarchical pooling of page token rows: half the storage, the same nDCG@5 (docs/bench/quality.md)."""


def normalize(vectors: FloatArray) -> FloatArray:
    """L2-normalises the last axis (rows of a matrix, or one vector); zero rows stay zero."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    out: FloatArray = (array / np.maximum(norms, _EPS)).astype(np.float32, copy=False)
    return out


def truncate(vectors: FloatArray, dim: int) -> FloatArray:
    """Matryoshka truncation: keeps the first ``dim`` dimensions and re-normalises.

    Raises:
        ValueError: ``dim`` is not in ``1..vectors.shape[-1]``.
    """
    full = vectors.shape[-1]
    if not 0 < dim <= full:
        raise ValueError(f"cannot truncate {full}-d vectors to {dim} dimensions")
    return normalize(vectors[..., :dim])


def maxsim(query: FloatArray, doc: FloatArray) -> float:
    """Late-interaction score: sum over query rows of the best dot product with a doc row.

    Args:
        query: (q, d) query token vectors.
        doc: (n, d) page token vectors. An empty page scores 0.
    """
    if doc.shape[0] == 0 or query.shape[0] == 0:
        return 0.0
    sims = query.astype(np.float32, copy=False) @ doc.astype(np.float32, copy=False).T
    return float(sims.max(axis=1).sum())


def maxsim_many(query: FloatArray, docs: Sequence[FloatArray]) -> FloatArray:
    """MaxSim of one query against many pages, in one matrix product.

    Pages are stacked so the cost is one (q, d) x (d, total rows) product plus a
    segmented max; this is what a rerank over a prefetch of 50-100 pages needs.
    """
    scores = np.zeros(len(docs), dtype=np.float32)
    sizes = np.array([d.shape[0] for d in docs], dtype=np.int64)
    present = np.flatnonzero(sizes)
    if query.shape[0] == 0 or present.size == 0:
        return scores
    stacked = np.concatenate([docs[int(i)] for i in present]).astype(np.float32, copy=False)
    sims = query.astype(np.float32, copy=False) @ stacked.T
    starts = np.concatenate(([0], np.cumsum(sizes[present])[:-1]))
    scores[present] = np.maximum.reduceat(sims, starts, axis=1).sum(axis=0)
    return scores


def pool_mean(vectors: FloatArray, group: int) -> FloatArray:
    """Mean pooling of consecutive rows in groups of ``group``, re-normalised.

    The cheap first-stage multi-vector (as Qdrant's mean pooling by rows of a
    ColPali page): a 450-token page with ``group=32`` keeps 15 vectors.
    """
    if group < 1:
        raise ValueError(f"group must be >= 1, got {group}")
    n = vectors.shape[0]
    if n == 0:
        return vectors.astype(np.float32, copy=True)
    starts = np.arange(0, n, group)
    sums = np.add.reduceat(vectors.astype(np.float32, copy=False), starts, axis=0)
    return normalize((sums / np.diff(np.append(starts, n))[:, None]).astype(np.float32))


def pool_hierarchical(vectors: FloatArray, pool_factor: int = 2) -> FloatArray:
    """Hierarchical token pooling (as in PyLate / ColBERT token pooling).

    Clusters the page's token vectors (Ward linkage on cosine geometry) into
    ``ceil(n / pool_factor)`` clusters and keeps each cluster's normalised mean:
    pool factor 2 stores half the vectors for a few percent of quality.
    """
    if pool_factor < 1:
        raise ValueError(f"pool_factor must be >= 1, got {pool_factor}")
    n = vectors.shape[0]
    keep = -(-n // pool_factor)
    if pool_factor == 1 or n <= 2 or keep >= n:
        return normalize(vectors)
    from scipy.cluster.hierarchy import fcluster, linkage

    unit = normalize(vectors).astype(np.float64)
    labels = fcluster(linkage(unit, method="ward"), t=keep, criterion="maxclust")
    pooled = np.zeros((labels.max(), vectors.shape[1]), dtype=np.float64)
    np.add.at(pooled, labels - 1, unit)
    return normalize(pooled[np.any(pooled != 0, axis=1)].astype(np.float32))


def to_float16(vectors: FloatArray) -> npt.NDArray[np.float16]:
    """Storage form of a multi-vector: half the bytes of float32, scores barely move."""
    return np.asarray(vectors, dtype=np.float16)


def token_embedding(
    dense: FloatArray,
    rows: FloatArray,
    *,
    query: bool,
    pool_group: int = POOL_GROUP,
    pool_factor: int = POOL_FACTOR,
) -> Embedding:
    """A token model's embedding of one text: its pooled first stage from every row, and for a
    page its rows pooled by ``pool_factor`` (queries keep every row)."""
    pooled = pool_mean(rows, pool_group)
    if not query and pool_factor > 1:
        rows = pool_hierarchical(rows, pool_factor)
    return Embedding(dense=dense, multi=rows, pooled=pooled)
