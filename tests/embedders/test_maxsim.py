"""MaxSim, pooling and truncation on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from pagerag.retriever.maxsim import (
    maxsim,
    maxsim_many,
    normalize,
    pool_hierarchical,
    pool_mean,
    to_float16,
    truncate,
)


def unit(*rows: list[float]) -> np.ndarray:
    return normalize(np.array(rows, dtype=np.float32))


def test_maxsim_sums_best_match_per_query_row() -> None:
    query = unit([1, 0, 0], [0, 1, 0])
    doc = unit([1, 0, 0], [0, 0, 1], [0, 1, 1])
    # row 1 matches doc row 0 exactly (1.0); row 2 best matches [0,1,1] (1/sqrt 2)
    assert maxsim(query, doc) == pytest.approx(1 + 1 / np.sqrt(2), abs=1e-6)


def test_maxsim_of_empty_page_or_query_is_zero() -> None:
    assert maxsim(unit([1, 0]), np.zeros((0, 2), np.float32)) == 0.0
    assert maxsim(np.zeros((0, 2), np.float32), unit([1, 0])) == 0.0


def test_maxsim_many_equals_one_by_one_and_keeps_empty_pages_at_zero() -> None:
    rng = np.random.default_rng(0)
    query = normalize(rng.normal(size=(5, 8)).astype(np.float32))
    docs = [normalize(rng.normal(size=(n, 8)).astype(np.float32)) for n in (3, 1, 7)]
    docs.insert(1, np.zeros((0, 8), np.float32))
    got = maxsim_many(query, docs)
    assert got.shape == (4,)
    assert got[1] == 0.0
    np.testing.assert_allclose(got, [maxsim(query, d) for d in docs], rtol=1e-5)


def test_normalize_rows_and_zero_rows() -> None:
    out = normalize(np.array([[3, 4], [0, 0]], dtype=np.float32))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0, 0]])
    assert out.dtype == np.float32


def test_truncate_keeps_prefix_and_renormalises() -> None:
    vectors = unit([1, 1, 1, 1], [0, 0, 1, 0])
    out = truncate(vectors, 2)
    np.testing.assert_allclose(out, [[1 / np.sqrt(2), 1 / np.sqrt(2)], [0, 0]], atol=1e-6)
    with pytest.raises(ValueError, match="to 5 dimensions"):
        truncate(vectors, 5)
    with pytest.raises(ValueError):
        truncate(vectors, 0)


def test_pool_mean_groups_consecutive_rows() -> None:
    rows = unit([1, 0], [1, 0], [0, 1], [0, 1], [1, 1])
    out = pool_mean(rows, 2)
    assert out.shape == (3, 2)
    np.testing.assert_allclose(out[:2], [[1, 0], [0, 1]], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, atol=1e-6)
    assert pool_mean(np.zeros((0, 2), np.float32), 4).shape == (0, 2)
    with pytest.raises(ValueError):
        pool_mean(rows, 0)


def test_pool_hierarchical_merges_near_duplicates_first() -> None:
    # three tight clusters of two rows each: pool factor 2 keeps one row per cluster
    rows = unit([1, 0.01, 0], [1, -0.01, 0], [0, 1, 0.01], [0.01, 1, 0], [0, 0, 1], [0, 0.01, 1])
    out = pool_hierarchical(rows, 2)
    assert out.shape == (3, 3)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, atol=1e-6)
    assert sorted(int(np.argmax(r)) for r in out) == [0, 1, 2]


def test_pool_hierarchical_factor_three_and_small_inputs() -> None:
    rng = np.random.default_rng(1)
    rows = normalize(rng.normal(size=(30, 16)).astype(np.float32))
    assert pool_hierarchical(rows, 3).shape[0] <= 10
    assert pool_hierarchical(rows[:2], 2).shape == (2, 16)
    assert pool_hierarchical(rows, 1).shape == rows.shape


def test_pooling_costs_little_maxsim_on_clustered_pages() -> None:
    rng = np.random.default_rng(2)
    centers = normalize(rng.normal(size=(10, 32)).astype(np.float32))
    page = normalize(np.repeat(centers, 3, axis=0) + 0.05 * rng.normal(size=(30, 32)).astype(np.float32))
    query = centers[:3]
    full = maxsim(query, page)
    assert maxsim(query, pool_hierarchical(page, 3)) == pytest.approx(full, rel=0.02)


def test_to_float16_halves_bytes() -> None:
    rows = unit([1, 2, 3])
    half = to_float16(rows)
    assert half.dtype == np.float16
    assert half.nbytes * 2 == rows.nbytes
