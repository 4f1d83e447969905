"""The BM25 sparse encoder: tokenizer behaviour and TF weights."""

from __future__ import annotations

import pytest

from pagerag.ingest.errors import ConfigError
from pagerag.retriever.embedders.bm25 import (
    Bm25BigramEncoder,
    Bm25Encoder,
    Bm25Options,
    normalize_text,
    term_id,
    tokenize,
)


def test_tokenizer_folds_case_accents_and_ligatures() -> None:
    assert tokenize("Größe GROSSE grosse") == ["grosse"] * 3
    assert tokenize("ﬁnance Café") == ["finance", "cafe"]
    assert tokenize("Ｒｅｖｅｎｕｅ") == ["revenue"]  # full-width forms (NFKC)


def test_tokenizer_rejoins_words_hyphenated_across_lines() -> None:
    assert tokenize("infor-\nmation and e-mail") == ["information", "mail"]
    assert "information" in normalize_text("infor- \n  mation")


def test_tokenizer_keeps_numbers_and_drops_stop_words() -> None:
    assert tokenize("The revenue of 2023 was 3,5 or 4.25 million") == [
        "revenue",
        "2023",
        "3,5",
        "4.25",
        "million",
    ]
    assert tokenize("le chiffre d'affaires de la société") == ["chiffre", "affaires", "societe"]
    assert tokenize("the of and", stopwords=False) == ["the", "of", "and"]


def test_other_languages_stop_words_that_are_english_words_are_kept() -> None:
    assert tokenize("war will die") == ["war", "will", "die"]


def test_cjk_runs_become_bigrams_and_hangul_words_stay_whole() -> None:
    assert tokenize("北京大学") == ["北京", "京大", "大学"]
    assert tokenize("東") == ["東"]
    assert tokenize("한국어 텍스트") == ["한국어", "텍스트"]


def test_term_ids_are_stable_31_bit_hashes() -> None:
    assert term_id("revenue") == term_id("revenue")
    assert term_id("revenue") != term_id("revenues")
    assert 0 <= term_id("x" * 100) < 2**31
    assert term_id("revenue") == 380717140  # fixed forever: an index built today must match later queries


def test_queries_weigh_each_distinct_term_once() -> None:
    (query,) = Bm25Encoder().embed_queries(["revenue revenue growth"])
    assert query.values == (1.0, 1.0)
    assert list(query.indices) == sorted(query.indices)


def test_page_weights_saturate_with_term_frequency_and_fall_with_length() -> None:
    enc = Bm25Encoder(Bm25Options(k=1.2, b=0.75, avg_len=10))
    rid = term_id("revenue")
    one, three, long_ = enc.embed_passages(
        ["revenue", "revenue revenue revenue", "revenue " + " ".join(f"word{i}x" for i in range(30))]
    )
    w1 = dict(zip(one.indices, one.values, strict=True))[rid]
    w3 = dict(zip(three.indices, three.values, strict=True))[rid]
    wl = dict(zip(long_.indices, long_.values, strict=True))[rid]
    assert w1 < w3 < 1.2 + 1  # saturates below k + 1
    assert wl < w1  # same tf in a longer page weighs less


def test_empty_text_gives_an_empty_vector() -> None:
    (page,) = Bm25Encoder().embed_passages([""])
    assert page.indices == () and page.values == ()


@pytest.mark.parametrize("options", [{"k": -1.0}, {"b": 1.5}, {"avg_len": 0.0}])
def test_bad_options_raise_config_error(options: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="bm25"):
        Bm25Options(**options)


def _score(query: object, page: object) -> float:
    weights = dict(zip(page.indices, page.values, strict=True))  # type: ignore[attr-defined]
    return sum(weights.get(i, 0.0) for i in query.indices)  # type: ignore[attr-defined]


def test_bigrams_rank_the_page_where_the_query_words_stand_together_first() -> None:
    pages = ["The total revenue rose; costs fell.", "The total cost rose; revenue fell."]
    (query,) = Bm25BigramEncoder().embed_queries(["total revenue"])
    near, far = Bm25BigramEncoder().embed_passages(pages)
    assert _score(query, near) > _score(query, far)
    (plain,) = Bm25Encoder().embed_queries(["total revenue"])
    near1, far1 = Bm25Encoder().embed_passages(pages)
    assert _score(plain, near1) == pytest.approx(_score(plain, far1))  # unigrams cannot tell them apart


def test_bigrams_skip_stop_words_and_keep_the_unigram_ids() -> None:
    enc = Bm25BigramEncoder()
    assert enc.terms("revenue of the year 2023") == ["revenue", "year", "2023", "revenue year", "year 2023"]
    (query,) = enc.embed_queries(["revenue"])
    (unigram,) = Bm25Encoder().embed_queries(["revenue"])
    assert query == unigram  # one-word queries, and the unigram part of every query, are unchanged
    assert Bm25Encoder().name == "bm25" and enc.name == "bm25-bigrams"  # an older index keeps its encoder
