"""The answer with no generation: the shortest span of the sources that answers, cited.

Candidate spans are the lines, sentences, table rows and table cells of each page
(:mod:`pagerag.pipelines.llm.spans`). They are ranked by the question's words
(weighted by how rare they are on these pages), the years it names, whether it asks
for a number, and how short they are. The answer quotes the best span (and a second
one when it answers another part of the question) as it stands on its page, so it
never states a number that is not on the cited page; when no span is supported it
says the pages do not answer.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pagerag.pipelines.llm.base import Prompt, Source, estimate_tokens
from pagerag.pipelines.llm.spans import LAYOUT_START as _LAYOUT_START
from pagerag.pipelines.llm.spans import Span, page_lines, page_spans
from pagerag.retriever.pagerefs import page_refs

NOT_ANSWERABLE = "Not answerable from these pages."
_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
# Question words and fillers in the languages of the dev sets; content words carry the match.
_STOP_TEXT = """
    a an the of in on at to for from by with and or as is are was were be been being it its this
    that these those what which who whom whose when where why how many much does do did according
    there their they he she we you i me my our your his her them than then into about over under
    between during per each any all some can could should would will shall may might must not no yes
    if so such also show shows shown list give tell name document page slide chart table figure
    report el la los las de del en y o que por para con un una es se al lo como su sus qué cuál
    cuánto le les des du et est un une dans pour par sur au aux qui quel quelle ce cette der die das
    den dem des und ist im in mit von zu für auf ein eine welche welcher was wie
    summarise summarize summary describe explain overview
"""
_STOP = frozenset(
    unicodedata.normalize("NFKD", w).encode("ascii", "ignore").decode() for w in _STOP_TEXT.split()
)
_NUMBER_WORDS = (
    "how many", "how much", "what share", "what percent", "percentage", "%", "what number", "how large",
    "how long", "how old", "what year", "when", "cuánt", "combien", "wie viel", "wie hoch",
)  # fmt: skip
_LOCATION = re.compile(
    r"\b(?:find|locate|which|what)\b(?:\s+\w+){0,2}?\s+(?:page|slide)s?\b|\bon which (?:page|slide)\b",
    re.IGNORECASE,
)
MIN_COVER = 0.05
"""Share of the question's (rarity-weighted) words a span must hold, else the pages do not answer."""
TOPIC_WEIGHT = 0.35
"""Weight of a question word found on every source: it names the document, not the answer."""


@dataclass(frozen=True, slots=True)
class _Scored:
    score: float
    cover: float
    span: Span
    terms: frozenset[str]


class ExtractiveLLM:
    """Answers with the shortest source spans that answer the question, each cited as ``[n]``.

    Instant, offline and never inventing: the choice when no generative model is
    wanted or available (``--llm none``).

    Example:
        >>> llm = ExtractiveLLM()
        >>> "".join(llm.generate(prompt, stream=False))  # doctest: +SKIP
        'Total 2023 revenue: $4.2M [1]'
    """

    name = "extractive"
    vision = False

    def __init__(self, *, sentences: int = 3, context_tokens: int = 8192, max_new_tokens: int = 256) -> None:
        self.sentences = sentences
        self.context_tokens = context_tokens
        self.max_new_tokens = max_new_tokens

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def generate(self, prompt: Prompt, images: Sequence[Path] = (), *, stream: bool = True) -> Iterator[str]:
        chosen = self.select(prompt)
        if not chosen:
            yield NOT_ANSWERABLE
            return
        parts = [f"{_trim(_quote(s))} [{s.n}]" for s in chosen]
        if _LOCATION.search(prompt.question) and not page_refs(prompt.question):  # "find the slide that ..."
            where = prompt.sources[chosen[0].n - 1]
            kind = "Slide" if where.source.lower().endswith((".pptx", ".ppt", ".key", ".odp")) else "Page"
            parts.insert(0, f"{kind} {where.page} [{where.n}]")
        if stream:
            for i, part in enumerate(parts):
                yield ("\n" if i else "") + part
        else:
            yield "\n".join(parts)

    def select(self, prompt: Prompt) -> list[Span]:
        """The spans to quote, best first (empty: the pages do not answer)."""
        named = _named_sources(prompt)
        query = _terms(prompt.question)
        if named and len(query) <= 2:  # "summarise slide 3": the page's opening lines
            return _opening(named[0], self.sentences)
        if not query:
            return []
        if any(not _on_pages(year, prompt.sources) for year in set(_YEAR.findall(prompt.question))):
            return []  # a year the question names is on none of the pages: any figure would be another year's
        ranked = _rank(prompt, query, named)
        if not ranked or ranked[0].cover < MIN_COVER:
            return []
        best = ranked[0]
        picked = [best.span]
        missing = set(query) - best.terms
        for other in ranked[1:]:
            if len(picked) >= self.sentences:
                break
            gain = missing & other.terms
            apart = other.span.text not in best.span.text and best.span.text not in other.span.text
            same_page = other.span.n == best.span.n and apart
            if gain and same_page and other.score >= 0.5 * best.score:
                picked.append(other.span)
                missing -= other.terms
        if len(picked) == 1 and best.span.kind == "cell":  # the row the cell is read from, as evidence
            row = next(
                (s.span for s in ranked if s.span.kind == "row" and s.span.line == best.span.line), None
            )
            if row is not None:
                picked.append(row)
        return picked


def _rank(prompt: Prompt, query: list[str], named: list[Source]) -> list[_Scored]:
    spans = [s for src in prompt.sources for s in page_spans(src.n, src.text, src.layout)]
    if not spans:
        return []
    lines = {(s.n, s.line): s for s in spans if s.kind in ("line", "row")}
    line_terms = {key: frozenset(_terms(s.text)) for key, s in lines.items()}
    df = Counter(t for terms in line_terms.values() for t in terms)
    idf = {t: math.log(1 + len(line_terms) / df[t]) for t in set(query) if df[t]}
    if not idf:
        return []
    on_pages = Counter(t for n in {key[0] for key in line_terms} for t in _page_terms(line_terms, n))
    pages = len({key[0] for key in line_terms})
    if pages > 1:  # words on every page name the document's topic, not the answer
        idf = {t: w * (TOPIC_WEIGHT if on_pages[t] == pages else 1.0) for t, w in idf.items()}
    total = sum(idf.values()) + sum(math.log(1 + len(line_terms)) for t in set(query) if t not in idf)
    asked_numbers = set(_NUMBER.findall(prompt.question))
    years = set(_YEAR.findall(prompt.question))
    numeric = _asks_number(prompt.question)
    named_n = {s.n for s in named}
    out: list[_Scored] = []
    for span in spans:
        terms = frozenset(_terms(span.words))
        context = frozenset(_terms(span.context)) - terms
        match = sum(idf.get(t, 0.0) for t in terms) + 0.5 * sum(idf.get(t, 0.0) for t in context)
        if match <= 0:
            continue
        cover = match / total
        score = match * (0.5 + cover)  # the more of the question a span holds, the better
        if terms <= set(query):  # says nothing the question does not: a heading, a label
            score *= 0.3
        prev = line_terms.get((span.n, span.line - 1), frozenset())
        score += 0.2 * sum(idf.get(t, 0.0) for t in prev - terms)
        stated = set(_NUMBER.findall(span.words))
        if stated - asked_numbers:  # states a number the question does not hold
            score *= 1.4 if numeric else 1.15
            if stated & asked_numbers and span.kind in ("row", "cell"):  # the row the question picks
                score *= 1.3
        elif numeric:
            score *= 0.8
        title = span.line in (0, _LAYOUT_START) and span.kind != "sentence"
        if title or span.kind == "header":  # a page's title and a table's column names rarely answer
            score *= 0.6
        if span.kind == "cell" and context & set(query):  # the question names the cell's column
            score *= 1.1
        score *= 1.0 + 0.01 * min(len(stated - asked_numbers), 5)  # of equal rows, the one read whole
        if years:
            said = set(_YEAR.findall(span.text)) | set(_YEAR.findall(span.context))
            score *= 1.2 if years <= said else 0.7 if said and not years & said else 1.0
        words = sum(any(c.isalpha() for c in w) for w in span.text.split())  # values make no row long
        score /= 1.0 + max(0, words - 12) / 25
        score *= 1.0 - min(0.05 * (span.n - 1), 0.5)  # retrieval ranked earlier sources higher
        if span.n in named_n:
            score *= 1.3
        out.append(_Scored(score, cover, span, terms | context))
    out.sort(key=lambda s: (-s.score, s.span.n, s.span.line))
    return out


def _quote(span: Span) -> str:
    """A table row is quoted with its column names (the years or dates its values are for)."""
    dated = span.kind == "row" and _YEAR.search(span.context)
    return f"{span.text} ({span.context})" if dated else span.text


def _page_terms(line_terms: dict[tuple[int, int], frozenset[str]], n: int) -> set[str]:
    return {t for (m, _line), terms in line_terms.items() if m == n for t in terms}


def _named_sources(prompt: Prompt) -> list[Source]:
    """The sources whose page the question names ("slide 3", "page 12")."""
    refs = page_refs(prompt.question)
    if not refs:
        return []
    wanted = set(refs.numbers) | ({1} if refs.first else set())
    return [s for s in prompt.sources if s.page in wanted]


def _opening(source: Source, count: int) -> list[Span]:
    lines = page_lines(source.text)[: max(count, 1) + 1]
    return [Span(source.n, i, line, "", "line") for i, line in enumerate(lines)]


def _on_pages(year: str, sources: Sequence[Source]) -> bool:
    return any(year in _YEAR.findall(s.text) for s in sources)


def _asks_number(question: str) -> bool:
    q = question.lower()
    return any(w in q for w in _NUMBER_WORDS)


def _terms(text: str) -> list[str]:
    words = (_fold(w) for w in _WORD.findall(text))
    return [_WORD_FORMS.get(w, stem(w)) for w in words if w not in _STOP and (len(w) > 1 or w.isdigit())]


# "the third postulate" is numbered "3-" on the page; "September 30" is "Sept. 30" in a table header.
_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth"
_MONTHS = "january february march april may june july august september october november december"
_WORD_FORMS = {
    **{w: str(i) for i, w in enumerate(_ORDINALS.split(), start=1)},
    **{m: m[:3] for m in _MONTHS.split()},
    "sept": "sep",
}


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    if len(word) > 5 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 6 and word.endswith("ing"):
        return word[:-3]
    return word


def _trim(text: str, width: int = 400) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rsplit(" ", 1)[0] + " …"
