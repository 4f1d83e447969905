"""The answer with no generation: the source sentences that best match the question.

Each chosen sentence is quoted as it stands on its page and cited, so the answer
never says anything the pages do not. Lines count as sentences too: slides,
charts and tables (OCR text) rarely end their lines with a full stop.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pagerag.pipelines.llm.base import Prompt, estimate_tokens

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?;。！？])\s+(?=[^a-z])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
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
"""
_STOP = frozenset(
    unicodedata.normalize("NFKD", w).encode("ascii", "ignore").decode() for w in _STOP_TEXT.split()
)


_NUMBER_WORDS = ("how many", "how much", "what share", "percent", "%", "cuánt", "combien", "wie viel")


@dataclass(frozen=True, slots=True)
class _Unit:
    n: int
    index: int
    text: str
    terms: frozenset[str]


class ExtractiveLLM:
    """Answers with the best-matching sentences of the sources, each cited as ``[n]``.

    Instant, offline and never inventing: the choice when no generative model is
    wanted or available (``--llm none``).

    Example:
        >>> llm = ExtractiveLLM()
        >>> "".join(llm.generate(prompt, stream=False))  # doctest: +SKIP
        'Revenue reached $4.2M in 2023 [1].'
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
            yield "The sources do not answer this."
            return
        parts = [f"{_trim(u.text)} [{u.n}]" for u in chosen]
        if stream:
            for i, part in enumerate(parts):
                yield ("\n" if i else "") + part
        else:
            yield "\n".join(parts)

    def select(self, prompt: Prompt) -> list[_Unit]:
        """The sentences to quote, best first."""
        query = _terms(prompt.question)
        if not query:
            return []
        units = [u for s in prompt.sources for u in _units(s.n, s.text)]
        if not units:
            return []
        df = Counter(t for u in units for t in u.terms)
        idf = {t: math.log(1 + len(units) / df[t]) for t in query if df[t]}
        if not idf:
            return []
        by_pos = {(u.n, u.index): u for u in units}
        asked_numbers = set(_NUMBER.findall(prompt.question))
        numeric_q = _asks_number(prompt.question)
        scored: list[tuple[float, _Unit]] = []
        for u in units:
            own = sum(idf.get(t, 0.0) for t in u.terms)
            if own <= 0:
                continue
            near = sum(
                sum(idf.get(t, 0.0) for t in v.terms)
                for v in (by_pos.get((u.n, u.index - 1)), by_pos.get((u.n, u.index + 1)))
                if v is not None
            )
            score = own + 0.25 * near
            if set(_NUMBER.findall(u.text)) - asked_numbers:  # a number the question does not hold
                score *= 1.3 if numeric_q else 1.2
            score *= 1.0 - 0.03 * (u.n - 1)  # earlier sources ranked higher by retrieval
            scored.append((score, u))
        if not scored:
            return []
        scored.sort(key=lambda x: -x[0])
        best = scored[0][0]
        picked = [u for s, u in scored[: self.sentences] if s >= 0.6 * best]
        return picked


def _asks_number(question: str) -> bool:
    q = question.lower()
    return any(
        w in q for w in ("how many", "how much", "what share", "percent", "%", "cuánt", "combien", "wie viel")
    )


def _units(n: int, text: str) -> list[_Unit]:
    """Sentences and lines of a page; very short lines join the next one (chart labels, table cells)."""
    pieces: list[str] = []
    carry = ""
    for line in _lines(text):
        for sentence in _SENTENCE.split(line):
            sentence = sentence.strip()
            if not sentence:
                continue
            joined = f"{carry} {sentence}".strip() if carry else sentence
            if len(_WORD.findall(joined)) < 4:
                carry = joined
                continue
            pieces.append(joined)
            carry = ""
    if carry:
        pieces.append(carry)
    return [_Unit(n, i, p, frozenset(_terms(p))) for i, p in enumerate(pieces)]


def _lines(text: str) -> list[str]:
    """Lines with wrapped prose re-joined: a long line that ends mid-sentence continues on the next."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            out.append("")
            continue
        prev = out[-1] if out else ""
        wrapped = len(prev) >= 50 and not prev.endswith((".", "!", "?", ":", ";"))
        if prev and (wrapped or line[0].islower()):
            out[-1] = f"{prev} {line}"
        else:
            out.append(line)
    return [line for line in out if line]


def _terms(text: str) -> list[str]:
    words = (_fold(w) for w in _WORD.findall(text))
    return [stem(w) for w in words if w not in _STOP and (len(w) > 1 or w.isdigit())]


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
