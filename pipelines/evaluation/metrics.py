"""Retrieval metrics via trec_eval (pytrec-eval-terrier), answer scores, and summaries.

Relevance is binary: a page is relevant when it is one of the gold pages of the gold
document (``doc#page``); every other page, in any document, is not. With several gold
pages, recall@k is the share of them found in the top k and nDCG@5 credits each.

Ties: trec_eval ranks by score and breaks ties by document id (descending), so raw
retrieval scores that tie would be reordered by name. A run here is a *ranked list*:
its ranks become strictly decreasing scores (``n, n-1, ..., 1``) before trec_eval sees
them, so the order the retriever returned is the order evaluated. Only hits whose retrieval
scores tie exactly are put in (source, page) order first (``runner.canonical_ties``): the
engine orders those arbitrarily, and the metrics must not move between identical runs.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Names used in reports and run files, in display order.
METRICS: tuple[str, ...] = ("ndcg@5", "recall@1", "recall@5", "recall@10", "mrr@10")
_TREC_NAMES = {
    "ndcg_cut_5": "ndcg@5",
    "recall_1": "recall@1",
    "recall_5": "recall@5",
    "recall_10": "recall@10",
}
# recip_rank in trec_eval is not cut; MRR@10 is computed on the run cut to its top 10.
_MRR_CUT = 10


def page_key(source: str, page: int) -> str:
    """The id one page has in qrels and runs: ``source#page``."""
    return f"{source}#{page}"


def ranked_scores(ranked: Sequence[str]) -> dict[str, float]:
    """Turn a ranked list into strictly decreasing scores; a repeated page keeps its first rank.

    Example:
        >>> ranked_scores(["a#1", "b#2", "a#1"])
        {'a#1': 2.0, 'b#2': 1.0}
    """
    unique = list(dict.fromkeys(ranked))
    return {key: float(len(unique) - rank) for rank, key in enumerate(unique)}


def score_queries(
    gold: Mapping[str, Iterable[str]],
    ranked: Mapping[str, Sequence[str]],
) -> dict[str, dict[str, float]]:
    """Per-query retrieval metrics with trec_eval.

    Args:
        gold: query id -> relevant page keys (see :func:`page_key`); each query needs one.
        ranked: query id -> page keys in rank order; a query missing here retrieved nothing.

    Returns:
        query id -> {metric name: value} for every name in :data:`METRICS`.

    Example:
        >>> score_queries({"q": ["a#2"]}, {"q": ["a#1", "a#2"]})["q"]["mrr@10"]
        0.5
    """
    import pytrec_eval

    qrels = {qid: dict.fromkeys(keys, 1) for qid, keys in gold.items()}
    empty = [qid for qid, rel in qrels.items() if not rel]
    if empty:
        raise ValueError(f"queries without gold pages: {', '.join(empty)}")
    run = {qid: ranked_scores(ranked.get(qid, ())) for qid in qrels}
    cut = {qid: ranked_scores(list(dict.fromkeys(ranked.get(qid, ())))[:_MRR_CUT]) for qid in qrels}
    main = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.5", "recall.1,5,10"}).evaluate(run)
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
    out: dict[str, dict[str, float]] = {}
    for qid in qrels:
        values = {name: float(main[qid][trec]) for trec, name in _TREC_NAMES.items()}
        values["mrr@10"] = float(mrr[qid]["recip_rank"])
        out[qid] = {name: values[name] for name in METRICS}
    return out


def mean_metrics(per_query: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over queries (0.0 for each when there are none)."""
    rows = list(per_query)
    if not rows:
        return dict.fromkeys(METRICS, 0.0)
    return {name: statistics.fmean(row[name] for row in rows) for name in METRICS}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between order statistics."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# --- answers --------------------------------------------------------------------------------

_ARTICLES = frozenset({"a", "an", "the"})
# CJK ideographs, kana and hangul syllables are tokens one character each (no spaces to split on).
_CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])")


def answer_tokens(text: str) -> list[str]:
    """Normalised tokens: NFKC, case-folded, punctuation and symbols to spaces, English articles dropped.

    Example:
        >>> answer_tokens("The GDP grew by 3.5%!")
        ['gdp', 'grew', 'by', '3', '5']
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text)
    text = _CJK.sub(r" \1 ", text)
    return [tok for tok in text.split() if tok not in _ARTICLES]


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 between normalised token bags (0.0 when either side is empty)."""
    pred, ref = answer_tokens(prediction), answer_tokens(reference)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_contains(prediction: str, reference: str) -> float:
    """1.0 when the normalised reference appears as a contiguous token run in the prediction."""
    ref = answer_tokens(reference)
    if not ref:
        return 0.0
    return 1.0 if f" {' '.join(ref)} " in f" {' '.join(answer_tokens(prediction))} " else 0.0


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CITE = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")


def numbers_recall(prediction: str, reference: str) -> float | None:
    """Share of the reference's numbers that the answer states (None: the reference has none).

    Decimal commas count as points ("2,7" is "2.7"); citation markers are no numbers.

    Example:
        >>> numbers_recall("47 and 389,933 [1]", "47 at launch, 389,933 by 2011")
        0.6666666666666666
    """
    wanted = {n.replace(",", ".") for n in _NUMBER.findall(reference)}
    if not wanted:
        return None
    got = {n.replace(",", ".") for n in _NUMBER.findall(_CITE.sub(" ", prediction))}
    return len(wanted & got) / len(wanted)


@dataclass(frozen=True, slots=True)
class AnswerScore:
    """Scores of one generated answer against the reference and the gold pages.

    ``citation_precision`` is None when the answer cites nothing (no precision to speak of);
    ``numbers`` is None when the reference holds no number. ``mmlb`` is MMLongBench-Doc's
    score (:mod:`pagerag.pipelines.evaluation.mmlongbench`) for the reference's ``answer_type``.
    """

    f1: float
    contains: float
    citation_precision: float | None
    cited: int
    numbers: float | None = None
    cites_gold: float = 0.0
    mmlb: float = 0.0
    answer_type: str = "str"


def score_answer(
    prediction: str, reference: str, cited: Sequence[str], gold: Iterable[str], *, question: str = ""
) -> AnswerScore:
    """Score one answer: token F1, exact-contains, numbers, gold citations and MMLongBench-Doc's rules.

    Args:
        prediction: the generated answer text.
        reference: the reference answer.
        cited: page keys the answer cites (see :func:`page_key`).
        gold: the query's gold page keys.
        question: the question (a number it holds is not taken as the answer's number).
    """
    from pagerag.pipelines.evaluation import mmlongbench

    unique = list(dict.fromkeys(cited))
    gold_set = set(gold)
    precision = sum(key in gold_set for key in unique) / len(unique) if unique else None
    text = _CITE.sub(" ", prediction)
    return AnswerScore(
        f1=token_f1(text, reference),
        contains=exact_contains(text, reference),
        citation_precision=precision,
        cited=len(unique),
        numbers=numbers_recall(text, reference),
        cites_gold=1.0 if gold_set.intersection(unique) else 0.0,
        mmlb=mmlongbench.score(prediction, reference, question=question),
        answer_type=mmlongbench.answer_type(reference),
    )
