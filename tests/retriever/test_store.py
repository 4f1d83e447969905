"""Store behaviour, run on both backends (edge and qdrant-client local mode): the congruence suite."""

from __future__ import annotations

import pytest

from pagerag.ingest.errors import ConfigError
from pagerag.retriever.index import PageIndex
from pagerag.retriever.store.base import Where
from pagerag.retriever.types import MODES, SearchFilter

from .conftest import OpenIndex, fill, make_pages  # noqa: TID251


def _top(index: PageIndex, query: str, **kw: object) -> list[tuple[str, int]]:
    return [(h.source, h.page) for h in index.search(query, **kw)]  # type: ignore[arg-type]


def test_pages_invisible_until_publish(open_index: OpenIndex) -> None:
    index = open_index()
    doc, pages = make_pages("d1", "a.pdf", ["alpha beta", "gamma delta"])
    index.write(doc, pages)
    assert index.search("alpha beta") == []
    assert index.published_doc_ids() == set()
    assert index.documents() == []
    index.publish("d1")
    assert _top(index, "alpha beta", k=1) == [("a.pdf", 1)]
    assert index.published_doc_ids() == {"d1"}
    assert [(d.doc_id, d.source, d.pages) for d in index.documents()] == [("d1", "a.pdf", 2)]


def test_publish_replaces_old_version_in_one_step(open_index: OpenIndex) -> None:
    index = open_index()
    old_doc, old_pages = make_pages("v1", "report.pdf", ["old figures for 2022", "old appendix"])
    index.write(old_doc, old_pages)
    index.publish("v1")
    new_doc, new_pages = make_pages("v2", "report.pdf", ["new figures for 2023"])
    index.write(new_doc, new_pages)
    # Until publish, searches still see the old version only.
    assert {h.doc_id for h in index.search("figures", k=10)} == {"v1"}
    index.publish("v2", replaces=["v1"])
    hits = index.search("figures", k=10)
    assert {h.doc_id for h in hits} == {"v2"}
    assert index.published_doc_ids() == {"v2"}
    assert index.store.count(Where()) == 1


def test_rewriting_a_live_document_keeps_it_visible(open_index: OpenIndex) -> None:
    index = open_index()
    doc, pages = make_pages("d1", "a.pdf", ["alpha beta"])
    index.write(doc, pages)
    index.publish("d1")
    index.write(doc, pages)  # same content again (same point ids): overwritten in place
    assert _top(index, "alpha", k=1) == [("a.pdf", 1)]


def test_remove_and_rename(index: PageIndex) -> None:
    index.remove(["doc-b"])
    assert "doc-b" not in index.published_doc_ids()
    assert all(h.doc_id != "doc-b" for h in index.search("carbon emissions", k=10))
    index.rename("doc-a", "archive/annual_2023.pdf")
    hits = index.search("revenue europe asia", k=1)
    assert (hits[0].source, hits[0].page) == ("archive/annual_2023.pdf", 2)
    assert "archive/annual_2023.pdf" in {d.source for d in index.documents()}


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_finds_the_page(filled: PageIndex, mode: str) -> None:
    hits = filled.search("carbon emissions fell", k=3, mode=mode)  # type: ignore[arg-type]
    assert (hits[0].source, hits[0].page) == ("reports/sustainability.pdf", 1)
    assert len(hits) == 3 or (mode == "sparse" and len(hits) == 1)  # sparse: only word matches
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].text == "carbon emissions fell by ten percent"
    assert hits[0].doc_id == "doc-b"


def test_hybrid_score_is_maxsim_and_k_is_respected(filled: PageIndex) -> None:
    from pagerag.retriever.recipe import HybridRecipe

    before, filled.recipe = filled.recipe, HybridRecipe(final=None)  # the order is pure MaxSim
    try:
        hits = filled.search("budget approval", k=2, prefetch=5)
    finally:
        filled.recipe = before
    assert len(hits) == 2 and hits[0].page == 3
    # the rerank is full MaxSim: an exact word match scores ~1 per query token
    assert hits[0].score == pytest.approx(2.0, abs=1e-2)


@pytest.mark.parametrize(
    ("final", "fusion"), [((1.0, 1.0, 0.5), "rrf"), ((1.0, 1.0, 0.0), "dbsf"), ((1.0, 1.0, 1.0), "dbsf")]
)
def test_final_fusion_recipes_run_on_both_backends(
    filled: PageIndex, final: tuple[float, float, float], fusion: str
) -> None:
    from pagerag.retriever.recipe import HybridRecipe

    before = filled.recipe
    filled.recipe = HybridRecipe(final=final, final_fusion=fusion)  # type: ignore[arg-type]
    try:
        hits = filled.search("balance sheet equity", k=3)
        assert (hits[0].doc_id, hits[0].page) == ("doc-a", 3) and len(hits) == 3
        if fusion == "rrf":
            assert 0 < hits[0].score < 1  # an RRF score, not MaxSim
    finally:
        filled.recipe = before


def test_filters(filled: PageIndex) -> None:
    q = "annual revenue carbon kickoff"
    assert {h.source for h in filled.search(q, filter=SearchFilter(sources=("slides/kickoff.pptx",)))} == {
        "slides/kickoff.pptx"
    }
    assert {h.source for h in filled.search(q, filter=SearchFilter(source_glob="reports/*"))} == {
        "reports/annual_2023.pdf",
        "reports/sustainability.pdf",
    }
    assert filled.search(q, filter=SearchFilter(source_glob="nothing/*")) == []
    assert {h.doc_id for h in filled.search(q, filter=SearchFilter(doc_ids=("doc-a",)))} == {"doc-a"}
    pages = {(h.doc_id, h.page) for h in filled.search(q, k=20, filter=SearchFilter(page_min=2, page_max=2))}
    assert pages == {("doc-a", 2), ("doc-b", 2), ("doc-c", 2)}
    assert {h.source for h in filled.search(q, filter=SearchFilter(fields=(("lang", "de"),)))} == {
        "slides/kickoff.pptx"
    }
    both = SearchFilter(source_glob="reports/*", fields=(("page", "1"),))
    assert {(h.doc_id, h.page) for h in filled.search(q, filter=both)} == {("doc-a", 1), ("doc-b", 1)}


def test_search_many_with_per_query_filters(filled: PageIndex) -> None:
    queries = ["revenue", "carbon emissions", "budget"]
    filters = [SearchFilter(doc_ids=("doc-a",)), None, SearchFilter(sources=("missing.pdf",))]
    results = filled.search_many(queries, k=2, filters=filters)
    assert results[0][0].doc_id == "doc-a" and all(h.doc_id == "doc-a" for h in results[0])
    assert results[1][0].doc_id == "doc-b"
    assert results[2] == []
    assert filled.search_many([], k=2) == []


def test_bad_mode_and_k(filled: PageIndex) -> None:
    with pytest.raises(ConfigError, match="unknown search mode"):
        filled.search("x", mode="bogus")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at least 1"):
        filled.search("x", k=0)


def test_reopen_keeps_published_pages(open_index: OpenIndex) -> None:
    index = open_index()
    fill(index)
    index.close()
    again = open_index()
    assert again.published_doc_ids() == {"doc-a", "doc-b", "doc-c"}
    assert _top(again, "water usage factories", k=1) == [("reports/sustainability.pdf", 2)]


def test_congruence_edge_and_local_rank_alike(tmp_path: object, embedder: object) -> None:
    """The same corpus and queries give the same ranking (and close scores) on both backends."""
    from pathlib import Path

    from qdrant_client import QdrantClient

    root = Path(str(tmp_path))
    edge = PageIndex.open(root / "edge", embedder=embedder)  # type: ignore[arg-type]
    local = PageIndex.open(root / "local", embedder=embedder, client=QdrantClient(":memory:"))  # type: ignore[arg-type]
    try:
        fill(edge)
        fill(local)
        for mode in MODES:
            for q in (
                "revenue 2023",
                "project timeline owners",
                "carbon emissions water usage factories",
                "balance equity",
            ):
                a = edge.search(q, k=5, mode=mode)  # type: ignore[arg-type]
                b = local.search(q, k=5, mode=mode)  # type: ignore[arg-type]
                # The same scores in the same order; the same pages above the last score (engines
                # break ties differently, and RRF makes ties at the cut-off).
                assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=2e-3), (mode, q)
                cut = min(a[-1].score, b[-1].score) + 2e-3
                above_a = {(h.doc_id, h.page) for h in a if h.score > cut}
                above_b = {(h.doc_id, h.page) for h in b if h.score > cut}
                assert above_a == above_b, (mode, q)
    finally:
        edge.close()
        local.close()


def test_an_older_edge_index_gets_the_payload_indexes_it_lacks(tmp_path: object) -> None:
    import qdrant_edge as qe

    from pagerag.retriever.store.edge import EdgeBackend

    from .fakes import HashEmbedder  # noqa: TID251

    with PageIndex.open(tmp_path, embedder=HashEmbedder()) as index:  # type: ignore[arg-type]
        shard = index.store.backend._shard  # an index from before `lang` and `chars` were indexed
        for name in ("lang", "chars"):
            shard.update(qe.UpdateOperation.delete_field_index(name))
        assert not {"lang", "chars"} & set(shard.info().payload_schema)
    with PageIndex.open(tmp_path, embedder=HashEmbedder()) as index:  # type: ignore[arg-type]
        backend = index.store.backend
        assert isinstance(backend, EdgeBackend)
        assert {"lang", "chars"} <= set(backend._shard.info().payload_schema)
