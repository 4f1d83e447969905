"""Metrics on hand-computed cases: single and multi-page gold, cut-offs, ties, duplicates."""

from __future__ import annotations

import math

import pytest

from pagerag.pipelines.evaluation.metrics import (
    METRICS,
    answer_tokens,
    exact_contains,
    mean_metrics,
    percentile,
    ranked_scores,
    score_answer,
    score_queries,
    token_f1,
)


def _one(gold: list[str], ranked: list[str]) -> dict[str, float]:
    return score_queries({"q": gold}, {"q": ranked})["q"]


def test_gold_first() -> None:
    assert _one(["a#1"], ["a#1", "a#2", "b#1"]) == dict.fromkeys(METRICS, 1.0)


def test_gold_third() -> None:
    m = _one(["a#3"], ["a#1", "a#2", "a#3"])
    assert m["ndcg@5"] == pytest.approx(1 / math.log2(4))  # 0.5
    assert m["recall@1"] == 0.0
    assert m["recall@5"] == 1.0
    assert m["mrr@10"] == pytest.approx(1 / 3)


def test_multi_page_gold_both_in_top5() -> None:
    m = _one(["a#2", "a#5"], ["a#2", "x#1", "a#5", "x#2"])
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3)
    assert m["ndcg@5"] == pytest.approx(dcg / idcg)  # 0.9197
    assert m["recall@1"] == 0.5
    assert m["recall@5"] == 1.0
    assert m["mrr@10"] == 1.0


def test_multi_page_gold_second_beyond_5() -> None:
    m = _one(["a#2", "a#9"], ["x#1", "a#2", "x#2", "x#3", "x#4", "a#9"])
    assert m["ndcg@5"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))  # 0.3869
    assert m["recall@1"] == 0.0
    assert m["recall@5"] == 0.5
    assert m["recall@10"] == 1.0
    assert m["mrr@10"] == 0.5


def test_same_page_number_in_another_document_is_not_relevant() -> None:
    assert _one(["a#2"], ["b#2", "c#2"]) == dict.fromkeys(METRICS, 0.0)


def test_mrr_is_cut_at_10() -> None:
    ranked = [f"x#{i}" for i in range(1, 11)] + ["a#1"]
    m = _one(["a#1"], ranked)
    assert m["mrr@10"] == 0.0
    assert m["recall@10"] == 0.0


def test_nothing_retrieved_and_missing_query_score_zero() -> None:
    out = score_queries({"q1": ["a#1"], "q2": ["a#1"]}, {"q1": []})
    assert out["q1"] == dict.fromkeys(METRICS, 0.0)
    assert out["q2"] == dict.fromkeys(METRICS, 0.0)


def test_ties_keep_rank_order_not_doc_id_order() -> None:
    # Two hits with the same raw score: raw trec_eval would sort the tie by doc id
    # (descending, so "z#1" first). The ranked list is evaluated as returned instead.
    import pytrec_eval

    raw = pytrec_eval.RelevanceEvaluator({"q": {"z#1": 1}}, {"recip_rank"})
    assert raw.evaluate({"q": {"a#1": 0.7, "z#1": 0.7}})["q"]["recip_rank"] == 1.0
    assert _one(["z#1"], ["a#1", "z#1"])["mrr@10"] == 0.5
    assert _one(["a#1"], ["a#1", "z#1"])["mrr@10"] == 1.0


def test_repeated_page_keeps_its_first_rank() -> None:
    assert ranked_scores(["x#1", "x#1", "a#1"]) == {"x#1": 2.0, "a#1": 1.0}
    assert _one(["a#1"], ["x#1", "x#1", "a#1"])["mrr@10"] == 0.5


def test_query_without_gold_is_refused() -> None:
    with pytest.raises(ValueError, match="q"):
        score_queries({"q": []}, {"q": ["a#1"]})


def test_mean_and_percentile() -> None:
    rows = [dict.fromkeys(METRICS, 1.0), dict.fromkeys(METRICS, 0.0)]
    assert mean_metrics(rows) == dict.fromkeys(METRICS, 0.5)
    assert mean_metrics([]) == dict.fromkeys(METRICS, 0.0)
    assert percentile([40.0, 10.0, 30.0, 20.0], 50) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)
    assert percentile([], 95) == 0.0


def test_answer_normalisation_and_f1() -> None:
    assert answer_tokens("The GDP grew by 3.5%!") == ["gdp", "grew", "by", "3", "5"]
    assert answer_tokens("北京 大学") == ["北", "京", "大", "学"]
    # prediction tokens [answer, is, 34], reference [34]: P = 1/3, R = 1, F1 = 0.5
    assert token_f1("The answer is 34%", "34%") == pytest.approx(0.5)
    assert token_f1("", "34") == 0.0
    assert token_f1("nothing shared", "34") == 0.0


def test_exact_contains_needs_a_contiguous_token_run() -> None:
    assert exact_contains("34% enroll, and 11% graduate.", "11% graduate") == 1.0
    assert exact_contains("graduate 11%", "11% graduate") == 0.0
    assert exact_contains("1198 units", "198") == 0.0
    assert exact_contains("anything", "") == 0.0


def test_citation_precision() -> None:
    s = score_answer("34", "34", ["a#1", "b#2", "a#1"], ["a#1"])
    assert (s.f1, s.contains, s.citation_precision, s.cited) == (1.0, 1.0, 0.5, 2)
    assert score_answer("34", "34", [], ["a#1"]).citation_precision is None
