"""Ask a question of the index: retrieve pages, prompt the LLM, keep only real citations.

Example:
    >>> from pagerag.pipelines.answer import ask
    >>> from pagerag.pipelines.llm import build_llm
    >>> answer = ask("What was revenue in 2023?", index=index, llm=build_llm("none"))  # doctest: +SKIP
    >>> answer.citations[0].source, answer.citations[0].page  # doctest: +SKIP
    ('report.pdf', 3)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from pagerag.ingest.types import WordBox
from pagerag.pipelines.llm.base import LLM, Prompt
from pagerag.pipelines.llm.layout import layout_rows
from pagerag.pipelines.prompt import NOT_FOUND, build_prompt
from pagerag.retriever.pagerefs import page_refs
from pagerag.retriever.types import Hit, SearchFilter

# The words of a retrieved page with their boxes (``PageRAG.words``): its table rows for the answer step.
Words = Callable[[Hit], Sequence[WordBox]]

NOTHING_FOUND = "No indexed page seems to answer this question."
# The best page's MaxSim score (``mode="multi"``: MiniLM token vectors, summed over the query's
# tokens) per query word, under which no devset question had its best page: calibrated on the
# default models (docs/bench/answers.md); it refuses about 60% of the questions about other documents.
# The hybrid ranking's own scores are fused ranks (RRF), which say nothing about relevance.
DEFAULT_MIN_RELEVANCE = 0.475
_CITE = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")


class Searcher(Protocol):
    """What ``ask`` needs of an index (``PageIndex`` has it)."""

    def search_scored(
        self, query: str, *, k: int = 10, filter: SearchFilter | None = None
    ) -> tuple[list[Hit], float]:
        """The top ``k`` pages and the best page's MaxSim score, from one query embedding."""
        ...


@dataclass(frozen=True, slots=True)
class Citation:
    """A page the answer cites.

    Attributes:
        n: the number the answer cites it by (``[n]``).
        source: document path relative to the ingested root.
        page: 1-based page number.
        image_path: the rendered page image, if any.
        score: its retrieval score.
    """

    n: int
    source: str
    page: int
    image_path: Path | None
    score: float


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to one question.

    Attributes:
        question: the question as asked.
        text: the answer; invented citation numbers are removed from it.
        citations: the cited pages, in the order the answer first cites them.
        hits: the retrieved pages, best first (source ``n`` is ``hits[n - 1]``).
        found: False when retrieval found nothing relevant (no LLM was asked), or the model said the
            pages do not hold the answer (:data:`~pagerag.pipelines.prompt.NOT_FOUND`).
        dropped_citations: numbers the model cited that match no source.
        search_query: what was searched (a chat follow-up is rewritten with its history).
        timings: seconds per step (``retrieve``, ``generate``, ``total``).
        llm: the model that answered.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    found: bool = True
    dropped_citations: tuple[int, ...] = ()
    search_query: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    llm: str = ""


def ask(
    question: str,
    *,
    index: Searcher,
    llm: LLM,
    k: int = 5,
    filter: SearchFilter | None = None,
    min_score: float | None = None,
    min_relevance: float | None = None,
    on_text: Callable[[str], None] | None = None,
    search_query: str | None = None,
    words: Words | None = None,
) -> Answer:
    """Answer ``question`` from the ``k`` best pages of ``index``, citing them.

    Args:
        question: what the user asks.
        index: anything with ``search(query, k=, filter=)`` (a ``PageIndex``).
        llm: the model that writes the answer (``build_llm(spec)``).
        k: pages given to the model.
        filter: restricts the search.
        min_score: the best hit must score at least this, else no LLM is asked and
            the closest pages are listed (``None``: always answer).
        min_relevance: the same, for :func:`relevance` of the query
            (:data:`DEFAULT_MIN_RELEVANCE` suits an index built with the default models).
        on_text: called with each piece of the answer as the model streams it.
        search_query: what to search instead of the question (chat rewrites).
        words: a page's word boxes; the extractive answerer then reads its table rows and cells.

    Returns:
        The answer with its citations, hits and timings.

    Raises:
        LLMError: the model failed.
    """
    if not question.strip():
        raise ValueError("the question is empty")
    started = time.perf_counter()
    query = search_query or question
    found, best = index.search_scored(query, k=k, filter=filter)
    hits = tuple(found)
    timings = {"retrieve": time.perf_counter() - started}
    if not hits or (
        not names_a_hit(query, hits)  # a page the question names is answered from, whatever its score
        and (
            (min_score is not None and hits[0].score < min_score)
            or (min_relevance is not None and relevance(query, best) < min_relevance)
        )
    ):
        text = nothing_found(hits)
        if on_text is not None:
            on_text(text)
        timings["total"] = time.perf_counter() - started
        return Answer(question, text, (), hits, False, (), query, timings, llm.name)
    prompt = build_prompt(
        query,  # a chat follow-up in its standalone form
        hits,
        context_tokens=llm.context_tokens,
        max_new_tokens=llm.max_new_tokens,
        count_tokens=llm.count_tokens,
        image_tokens=int(getattr(llm, "image_tokens", 0)) if llm.vision else 0,
    )
    if words is not None:
        prompt = with_layout(prompt, hits, words)
    generated = time.perf_counter()
    pieces: list[str] = []
    # Always streamed: a slow model then only has to keep sending, not finish within one timeout.
    for piece in llm.generate(prompt, prompt.images() if llm.vision else (), stream=True):
        pieces.append(piece)
        if on_text is not None:
            on_text(piece)
    timings["generate"] = time.perf_counter() - generated
    text, cited, dropped = resolve_citations("".join(pieces).strip(), len(prompt.sources))
    citations = tuple(_citation(prompt, n) for n in cited)
    timings["total"] = time.perf_counter() - started
    answered = not text.startswith(NOT_FOUND)  # the model said the pages do not hold the answer
    return Answer(question, text, citations, hits, answered, dropped, query, timings, llm.name)


def names_a_hit(question: str, hits: Sequence[Hit]) -> bool:
    """Whether ``question`` names one of the pages found ("summarise slide 3" and slide 3 was found).

    Example:
        >>> names_a_hit("Summarise slide 3", [Hit("deck.pptx", 3, 0.1, "", None, "d")])
        True
    """
    refs = page_refs(question)
    if not refs:
        return False
    wanted = set(refs.numbers) | ({1} if refs.first else set())
    return any(h.page in wanted or wanted.intersection(h.labels) for h in hits)


def with_layout(prompt: Prompt, hits: Sequence[Hit], words: Words) -> Prompt:
    """``prompt`` with each source's visual rows (:func:`layout_rows` of its words) for extractive answers."""
    sources = tuple(replace(s, layout=layout_rows(words(hits[s.n - 1]))) for s in prompt.sources)
    return replace(prompt, sources=sources)


def relevance(query: str, best_score: float) -> float:
    """How well the best page matches ``query``: its MaxSim score per query word.

    Example:
        >>> relevance("Total revenue 2023", 1.5)
        0.5
    """
    return best_score / max(len(re.findall(r"\w+", query)), 1)


def resolve_citations(text: str, sources: int) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """Keep the ``[n]`` markers that name a source; remove the others.

    Returns:
        The cleaned text, the valid numbers in first-cited order, the dropped numbers.

    Example:
        >>> resolve_citations("A [1]. B [7][2].", 2)
        ('A [1]. B [2].', (1, 2), (7,))
    """
    cited: list[int] = []
    dropped: list[int] = []

    def keep(match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.split(r"[,;]", match.group(1))]
        good = [n for n in numbers if 1 <= n <= sources]
        for n in numbers:
            bucket = cited if n in good else dropped
            if n not in bucket:
                bucket.append(n)
        return "".join(f"[{n}]" for n in good)

    cleaned = _CITE.sub(keep, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), tuple(cited), tuple(dropped)


def nothing_found(hits: Sequence[Hit]) -> str:
    """The reply when no page is relevant: say so, and name the closest pages."""
    if not hits:
        return "Nothing in the index matches this question."
    closest = "\n".join(f"- {h.source}, page {h.page} (score {h.score:.3f})" for h in hits[:5])
    return f"{NOTHING_FOUND} The closest pages are:\n{closest}"


def _citation(prompt: Prompt, n: int) -> Citation:
    s = prompt.sources[n - 1]
    return Citation(n, s.source, s.page, s.image_path, s.score)


# A follow-up leans on the conversation: it is short, opens like a continuation or points back.
_OPENERS = ("and", "what about", "how about", "also", "same", "then", "but", "or", "what else", "why")
_POINTERS = frozenset({"it", "they", "them", "this", "that", "these", "those", "he", "she", "there"})


def is_follow_up(question: str) -> bool:
    """Whether ``question`` likely needs the previous one to be understood.

    Example:
        >>> is_follow_up("And in 2022?"), is_follow_up("What did the crane lift in its load test?")
        (True, False)
    """
    words = re.findall(r"\w+", question.lower())
    if len(words) <= 4:
        return True
    if " ".join(words).startswith(_OPENERS):
        return True
    return len(words) <= 10 and bool(_POINTERS.intersection(words))


@dataclass(slots=True)
class Chat:
    """A conversation: each follow-up question is made standalone before retrieval.

    With a chat model the model rewrites the follow-up from the history; with the
    extractive answerer or a base model, a follow-up (short, or leaning on "it",
    "they", "that" ...) is searched together with the last standalone question.

    Example:
        >>> chat = Chat(index=index, llm=llm)  # doctest: +SKIP
        >>> chat.ask("What was revenue in 2023?").text  # doctest: +SKIP
        >>> chat.ask("And in 2022?").search_query  # doctest: +SKIP
        'And in 2022? (What was revenue in 2023?)'
    """

    index: Searcher
    llm: LLM
    k: int = 5
    filter: SearchFilter | None = None
    min_score: float | None = None
    min_relevance: float | None = None
    history: list[tuple[str, str]] = field(default_factory=list)
    words: Words | None = None
    _topic: str = ""

    def ask(self, question: str, *, on_text: Callable[[str], None] | None = None) -> Answer:
        """Answer the next question of the conversation."""
        query = self.rewrite(question)
        answer = ask(
            question,
            index=self.index,
            llm=self.llm,
            k=self.k,
            filter=self.filter,
            min_score=self.min_score,
            min_relevance=self.min_relevance,
            on_text=on_text,
            search_query=query,
            words=self.words,
        )
        self.history.append((question, answer.text))
        return answer

    def rewrite(self, question: str) -> str:
        """The standalone form of ``question`` given the conversation so far."""
        if self.history and (getattr(self.llm, "chat", False) or self.llm.name.startswith("openai:")):
            rewritten = self._model_rewrite(question)
            if rewritten:
                self._topic = rewritten
                return rewritten
        if self.history and self._topic and is_follow_up(question):
            return f"{question} ({self._topic})"
        self._topic = question
        return question

    def _model_rewrite(self, question: str) -> str:
        turns = "\n".join(f"User: {q}\nAssistant: {a[:500]}" for q, a in self.history[-3:])
        system = (
            "Rewrite the user's last question so that it can be understood without the conversation. "
            "Reply with the rewritten question only."
        )
        user = f"Conversation:\n{turns}\n\nLast question: {question}"
        prompt = Prompt(question, (), system, user, f"{system}\n\n{user}\nRewritten question:", ("\n",))
        text = "".join(self.llm.generate(prompt, stream=False)).strip().strip('"')
        return text.splitlines()[0][:500] if text else ""
