"""The evidence on a page image: the boxes of the words that an answer and its question share with the page.

A page viewer draws these boxes over the stored page image (the boxes are in its
pixels, see :meth:`pagerag.ingest.catalog.Catalog.words`), so a reader sees where
the answer stands without another OCR pass. Words are compared as the BM25 index
compares them (:func:`pagerag.retriever.embedders.bm25.tokenize`: case and accents
folded, punctuation dropped, stop words skipped, decimal numbers kept whole), so a
number matches only itself: "4.2" marks "$4.2M" but not "4.25".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pagerag.ingest.types import WordBox
from pagerag.pipelines.llm.extractive import stem
from pagerag.retriever.embedders.bm25 import tokenize

_CITATION = re.compile(r"\[\d+(?:\s*[,;-]\s*\d+)*\]")  # [1], [2, 3], [1-2]: source markers, not content


def evidence_boxes(words: Sequence[WordBox], *, question: str, answer: str = "") -> list[WordBox]:
    """The boxes of ``words`` that hold a word of the answer or of the question.

    Args:
        words: one page's words (:meth:`Catalog.words`).
        question: the question asked.
        answer: the answer given (its citation markers such as ``[1]`` are ignored).

    Returns:
        The matching boxes, in page order.

    Example:
        >>> page = [WordBox("Total", 0, 0, 9, 5), WordBox("$4.2M", 9, 0, 19, 5)]
        >>> page.append(WordBox("4.25", 20, 0, 29, 5))
        >>> [w.text for w in evidence_boxes(page, question="What was the total?", answer="$4.2M [1]")]
        ['Total', '$4.2M']
    """
    wanted = _terms(question) | _terms(_CITATION.sub(" ", answer))
    if not wanted:
        return []
    return [w for w in words if not wanted.isdisjoint(_terms(w.text))]


def _terms(text: str) -> set[str]:
    return {stem(t) for t in tokenize(text)}
