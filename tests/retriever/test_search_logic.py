"""Query plans and filters, without a store."""

from __future__ import annotations

import pytest

from pagerag.ingest.errors import ConfigError
from pagerag.retriever.recipe import HybridRecipe
from pagerag.retriever.search import build_stage, parse_filters, to_where
from pagerag.retriever.store.base import AnyOf, Between, Dbsf, Eq, Nearest, Rrf, Where
from pagerag.retriever.types import SearchFilter

from .fakes import DenseOnlyEmbedder, HashEmbedder  # noqa: TID251


def test_hybrid_plan_is_prefetch_fuse_rerank() -> None:
    emb = HashEmbedder()
    q = emb.embed_queries(["total revenue"])[0]
    stage = build_stage(q, emb.spec, mode="hybrid", k=5, recipe=HybridRecipe(prefetch=40, final=None))
    assert stage is not None
    assert isinstance(stage.query, Nearest) and stage.query.using == "multi" and stage.limit == 5
    (fused,) = stage.prefetch
    assert isinstance(fused.query, Rrf) and fused.query.weights is None and fused.limit == 40
    assert [(s.query.using, s.limit) for s in fused.prefetch] == [
        ("dense", 40),
        ("sparse", 40),
        ("pooled", 40),
    ]  # type: ignore[union-attr]


def test_final_fusion_of_maxsim_with_sparse_and_dense() -> None:
    emb = HashEmbedder()
    q = emb.embed_queries(["total revenue"])[0]
    st = build_stage(
        q,
        emb.spec,
        k=5,
        recipe=HybridRecipe(prefetch=30, rerank=20, final=(2.0, 1.0, 0.0), final_fusion="rrf"),
    )
    assert st is not None and isinstance(st.query, Rrf) and st.query.weights == (2.0, 1.0) and st.limit == 5
    ranked, sparse = st.prefetch
    assert (ranked.query.using, ranked.limit) == ("multi", 20)  # type: ignore[union-attr]
    assert isinstance(ranked.prefetch[0].query, Rrf) and ranked.prefetch[0].limit == 20
    assert (sparse.query.using, sparse.limit) == ("sparse", 30)  # type: ignore[union-attr]


def test_default_final_fusion_is_dbsf_of_maxsim_and_sparse() -> None:
    emb = HashEmbedder()
    q = emb.embed_queries(["total revenue"])[0]
    st = build_stage(q, emb.spec, k=5, recipe=HybridRecipe(final=(1.0, 1.0, 0.0), final_fusion="dbsf"))
    assert st is not None and isinstance(st.query, Dbsf)
    assert [p.query.using for p in st.prefetch] == ["multi", "sparse"]  # type: ignore[union-attr]


def test_fusion_weights_and_modes() -> None:
    emb = HashEmbedder()
    q = emb.embed_queries(["total revenue"])[0]
    st = build_stage(q, emb.spec, mode="fusion", k=3, recipe=HybridRecipe(weights=(1.0, 2.0, 0.0)))
    assert st is not None and isinstance(st.query, Rrf) and st.query.weights == (1.0, 2.0)
    assert [s.query.using for s in st.prefetch] == ["dense", "sparse"]  # type: ignore[union-attr]
    multi = build_stage(q, emb.spec, mode="multi", k=3)
    assert multi is not None and multi.query.using == "multi"  # type: ignore[union-attr]
    assert multi.prefetch[0].query.using == "pooled"  # type: ignore[union-attr]
    assert build_stage(q, emb.spec, mode="dense", k=3).query.using == "dense"  # type: ignore[union-attr]
    # k above the prefetch size widens the candidate lists
    assert build_stage(q, emb.spec, mode="fusion", k=80).prefetch[0].limit == 80  # type: ignore[union-attr]


def test_a_query_without_known_terms_has_no_sparse_stage() -> None:
    emb = HashEmbedder()
    q = emb.embed_queries(["???"])[0]
    assert build_stage(q, emb.spec, mode="sparse") is None
    st = build_stage(q, emb.spec, mode="fusion")
    assert st is not None and [s.query.using for s in st.prefetch] == ["dense", "pooled"]  # type: ignore[union-attr]


def test_dense_only_spec() -> None:
    emb = DenseOnlyEmbedder()
    q = emb.embed_queries(["x"])[0]
    st = build_stage(q, emb.spec, mode="hybrid")
    assert st is not None and isinstance(st.query, Rrf)
    with pytest.raises(ConfigError, match="multi-vector"):
        build_stage(q, emb.spec, mode="multi")


def test_parse_filters() -> None:
    f = parse_filters(["source=a/b.pdf", "source=reports/*.pdf", "doc=abc", "page=3-7", "lang=de", "ocr=1"])
    assert f == SearchFilter(("a/b.pdf",), "reports/*.pdf", ("abc",), 3, 7, (("lang", "de"), ("ocr", "1")))
    assert parse_filters(["page=4"]).page_min == 4 and parse_filters(["page=4"]).page_max == 4
    assert parse_filters(["page=-4"]) == SearchFilter(page_min=None, page_max=4)
    for bad in (["nokey"], ["=x"], ["page=a-b"], ["source=*.pdf", "source=*.pptx"]):
        with pytest.raises(ConfigError):
            parse_filters(bad)


def test_to_where_resolves_globs_against_sources() -> None:
    sources = ["reports/a.pdf", "reports/sub/b.pdf", "slides/c.pptx"]
    w = to_where(parse_filters(["source=reports/*", "page=2-", "page_count=12"]), lambda: sources)
    assert w == Where(
        (
            AnyOf("source", ("reports/a.pdf", "reports/sub/b.pdf")),
            Between("page", 2, None),
            Eq("page_count", 12),
        )
    )
    assert to_where(parse_filters(["source=none/*"]), lambda: sources).matches_nothing()
    assert to_where(None, lambda: sources) == Where()
    with pytest.raises(ConfigError, match="page is a number"):
        to_where(SearchFilter(fields=(("page", "x"),)), lambda: sources)
