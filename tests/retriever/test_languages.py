"""Query language and the language-aware hybrid plan: an English-only MaxSim only where it can read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pagerag.ingest.errors import ConfigError
from pagerag.ingest.types import DocumentInfo, Page
from pagerag.retriever.index import PageIndex
from pagerag.retriever.language import english_only, query_language
from pagerag.retriever.recipe import DEFAULT_RECIPE, HybridRecipe
from pagerag.retriever.search import build_stage, one_document
from pagerag.retriever.store.base import HAS_TEXT, AnyOf, Dbsf, Stage
from pagerag.retriever.types import SearchFilter

from .conftest import OpenIndex  # noqa: TID251 (the test package, not the bare source folder)
from .fakes import HashEmbedder  # noqa: TID251 (the test package, not the bare source folder)


@pytest.mark.parametrize(
    ("query", "lang"),
    [
        ("What is the mean petal length of Iris virginica in the chart?", "eng"),
        ("How many wine samples belong to class 1?", "eng"),
        ("Wie viele Mitarbeiter hatte die Firma im Jahr 2020?", "deu"),
        ("Quelle est la part des exportations dans le total?", "fra"),
        ("¿Cuántas toneladas de crustáceos se exportaron en 2007?", "spa"),
        ("Hoeveel pakketten zijn er in de distributie en wat is het doel?", "nld"),
        ("如何安装软件包", "chi_sim"),
        ("패키지를 설치하는 방법", "kor"),
        ("Как установить пакет", "rus"),
        ("revenue 2020", None),  # keywords: no function words, unknown
        ("", None),
    ],
)
def test_query_language(query: str, lang: str | None) -> None:
    assert query_language(query) == lang


def test_english_only_models() -> None:
    assert english_only("minilm-tokens")
    assert not english_only("e5-tokens") and not english_only("jina-colbert-v2:/models/x")


def _spec(multi: str = "minilm-tokens") -> HashEmbedder:
    emb = HashEmbedder()
    emb._spec = replace(emb.spec, models={**emb.spec.models, "multi": multi})
    return emb


def _walk(stage: Stage) -> list[Stage]:
    return [stage, *(s for p in stage.prefetch for s in _walk(p))]


def test_english_query_keeps_maxsim_on_english_pages_and_dense_on_the_others() -> None:
    emb = _spec()
    q = emb.embed_queries(["how many packages"])[0]
    st = build_stage(q, emb.spec, k=5, lang="eng", one_document=True)
    assert st is not None and isinstance(st.query, Dbsf)
    ranked, sparse, others = st.prefetch
    assert ranked.query.using == "multi" and ranked.where.must == (AnyOf("lang", ("eng", "en", "")),)  # type: ignore[union-attr]
    assert sparse.query.using == "sparse" and sparse.where.must == ()  # type: ignore[union-attr]
    assert others.query.using == "dense" and others.where.must_not == ranked.where.must + HAS_TEXT.must_not  # type: ignore[union-attr]


def test_other_language_query_fuses_sparse_and_dense_without_maxsim() -> None:
    emb = _spec()
    q = emb.embed_queries(["wie viele Pakete"])[0]
    st = build_stage(q, emb.spec, k=5, lang="deu", one_document=True)
    assert st is not None and isinstance(st.query, Dbsf)
    assert [s.query.using for s in st.prefetch] == ["sparse", "dense"]  # type: ignore[union-attr]
    across = build_stage(q, emb.spec, k=5, lang="deu")  # the default's dense weight across documents: 1 + 1
    assert across is not None
    assert [s.query.using for s in across.prefetch] == ["sparse", "dense", "dense"]  # type: ignore[union-attr]
    assert all(getattr(s.query, "using", "") != "multi" for s in _walk(st))


def test_plan_is_unchanged_for_unknown_language_multilingual_model_or_languages_off() -> None:
    emb = _spec()
    q = emb.embed_queries(["revenue"])[0]
    plain = build_stage(q, emb.spec, k=5)
    off = replace(DEFAULT_RECIPE, languages=False)
    assert build_stage(q, emb.spec, k=5, recipe=off, lang="deu") == plain
    multilingual = _spec("e5-tokens")
    assert build_stage(q, multilingual.spec, k=5, lang="deu") == build_stage(q, multilingual.spec, k=5)
    assert all(s.where.must == () and s.where.must_not in ((), HAS_TEXT.must_not) for s in _walk(plain))  # type: ignore[arg-type]


def test_dense_joins_the_final_fusion_only_across_documents() -> None:
    emb = _spec()
    q = emb.embed_queries(["revenue"])[0]
    recipe = HybridRecipe(languages=False, final=(1.0, 1.0, 0.0), final_across=(1.0, 1.0, 1.0))
    within = build_stage(q, emb.spec, k=5, recipe=recipe, one_document=True)
    across = build_stage(q, emb.spec, k=5, recipe=recipe)
    assert within is not None and across is not None
    assert [getattr(s.query, "using", "") for s in within.prefetch] == ["multi", "sparse"]
    assert [getattr(s.query, "using", "") for s in across.prefetch] == ["multi", "sparse", "dense"]


def test_one_document_filters() -> None:
    assert one_document(SearchFilter(sources=("a.pdf",)))
    assert one_document(SearchFilter(doc_ids=("ab12",), page_min=2))
    assert not one_document(None)
    assert not one_document(SearchFilter(sources=("a.pdf", "b.pdf")))
    assert not one_document(SearchFilter(sources=("a.pdf",), source_glob="*.pdf"))


def test_dbsf_weights_repeat_lists() -> None:
    emb = _spec()
    q = emb.embed_queries(["revenue"])[0]
    st = build_stage(q, emb.spec, k=5, recipe=HybridRecipe(final=(2.0, 1.0, 1.0), languages=False))
    with pytest.raises(ConfigError):
        HybridRecipe(final=(1.5, 1.0, 0.0))
    assert st is not None
    assert [s.query.using for s in st.prefetch[1:]] == ["multi", "sparse", "dense"]  # type: ignore[union-attr]


def _pages(doc_id: str, source: str, lang: str, texts: list[str]) -> tuple[DocumentInfo, list[Page]]:
    pages = [Page(doc_id, source, i, len(texts), t, lang=lang) for i, t in enumerate(texts, 1)]
    return DocumentInfo(doc_id, source, len(texts)), pages


def test_language_plans_run_on_both_backends(open_index: OpenIndex) -> None:
    """Per-stage language filters are valid queries on qdrant-edge and on qdrant-client."""
    index: PageIndex = open_index(embedder=_spec())
    for doc_id, source, lang, texts in (
        ("en", "guide.pdf", "eng", ["how to build a package with the tools", "the upload queue"]),
        ("de", "anleitung.pdf", "deu", ["wie man ein Paket baut", "die Warteschlange"]),
        ("xx", "scan.pdf", "", ["package"]),
    ):
        doc, pages = _pages(doc_id, source, lang, texts)
        index.write(doc, pages)
        index.publish(doc_id)
    english = index.search("How do I build a package with the tools?", k=5)
    assert english[0].source == "guide.pdf"
    assert {h.source for h in english} == {"guide.pdf", "anleitung.pdf", "scan.pdf"}  # all languages ranked
    german = index.search("Wie baut man ein Paket?", k=5)
    assert german[0].source == "anleitung.pdf"
    assert {h.source for h in german} == {"guide.pdf", "anleitung.pdf", "scan.pdf"}


def test_an_older_edge_index_gets_the_lang_payload_index_on_open(tmp_path: Path) -> None:
    import qdrant_edge as qe

    with PageIndex.open(tmp_path, embedder=_spec()) as index:
        doc, pages = _pages("de", "anleitung.pdf", "deu", ["wie man ein Paket baut"])
        index.write(doc, pages)
        index.publish("de")
    shard = qe.EdgeShard.load(str(tmp_path / "qdrant"))
    shard.update(qe.UpdateOperation.delete_field_index("lang"))  # as indexes written before the field was
    assert "lang" not in shard.info().payload_schema
    shard.close()
    with PageIndex.open(tmp_path, embedder=_spec()) as index:
        assert index.search("How do I build a package?", k=1)[0].source == "anleitung.pdf"
    shard = qe.EdgeShard.load(str(tmp_path / "qdrant"))
    assert "lang" in shard.info().payload_schema
    shard.close()


def _one_document_corpus(index: PageIndex) -> None:
    for doc_id, source, texts in (
        (
            "a",
            "geometry.pptx",
            [
                "euclid postulate lecture one",
                "euclid postulate",
                "euclid lecture notes on the postulate",
                "postulate lecture",
                "euclid",
                "lecture on euclid",
                "the fifth postulate of euclid",
            ],
        ),
        ("b", "budget.pdf", ["budget approval", "euclid street lease"]),
    ):
        doc, pages = _pages(doc_id, source, "", texts)
        index.write(doc, pages)
        index.publish(doc_id)


def test_a_search_whose_best_pages_are_all_of_one_document_keeps_the_within_document_order(
    open_index: OpenIndex,
) -> None:
    index = open_index()
    _one_document_corpus(index)

    def ranked(query: str, **recipe: object) -> list[tuple[str, int, float]]:
        """Every page (no tie at a cut-off), in a fixed order."""
        index.recipe = replace(DEFAULT_RECIPE, **recipe)  # type: ignore[arg-type]
        return sorted((h.source, h.page, round(h.score, 6)) for h in index.search(query, k=9))

    one = "euclid postulate lecture"
    assert {h.source for h in index.search(one, k=5)} == {"geometry.pptx"}
    assert ranked(one) == ranked(one, final_across=None)  # MaxSim + BM25, as within the document
    assert ranked(one) != ranked(one, one_document_top=None)  # the fusion across documents: dense too
    spread = "euclid budget approval"
    index.recipe = DEFAULT_RECIPE
    assert len({h.source for h in index.search(spread, k=5)}) == 2
    assert ranked(spread) == ranked(spread, one_document_top=None)
