"""Pages a question names: "the figure on page 17", "slide 4", "pages 3-5", "the cover", "the last page".

A question that names a page is asking about that page, and the words of the question
rarely say what is on it (a figure, a photo): text similarity alone ranks it low. The
search puts the named pages first, matching a number against both what is printed on a
page (:mod:`pagerag.ingest.labels`) and its position. English, German, French and
Spanish forms are understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_RANGE = 10
"""A range longer than this ("pages 1-200") names too much to put first."""

_WORD = r"(?:pages?|pp?\.|slides?|seiten?|folien?|páginas?|paginas?|pág\.|diapositivas?|diapositives?)"
_NUMBER = re.compile(
    rf"\b{_WORD}\s*(?:no\.?\s*|nr\.?\s*|number\s*|#\s*)?(\d{{1,4}})"
    r"(?:\s*(-|–|to|bis|à|a|and|und|et|y|&|,)\s*(\d{1,4}))?(?!\s*%)",
    re.IGNORECASE,
)
_NUMBER_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_ORDINAL_WORDS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
]
_PAGE_NOUN = r"(?:page|slide|seite|folie)"
_ORDINAL = re.compile(
    rf"\b(?:(\d{{1,4}})(?:st|nd|rd|th|\.)|({'|'.join(_ORDINAL_WORDS[1:])}))\s+{_PAGE_NOUN}\b(?!\s+to\s+last)",
    re.IGNORECASE,
)
_SPELLED = re.compile(rf"\b(?:pages?|slides?)\s+({'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)
_FIRST = re.compile(
    r"\b(?:(?:front\s+|back\s+of\s+the\s+)?cover|title\s+(?:page|slide)|first\s+(?:page|slide)|"
    r"titelseite|titelblatt|deckblatt|erste[nrs]?\s+(?:seite|folie)|"
    r"première\s+(?:page|diapositive)|couverture|primera\s+(?:página|pagina|diapositiva)|portada)\b",
    re.IGNORECASE,
)
_SECOND_LAST = re.compile(
    r"\b(?:second[\s-]+(?:to[\s-]+)?last|penultimate|next[\s-]+to[\s-]+last|vorletzte[nrs]?|avant-dernière|penúltima)"
    r"\s+(?:page|slide|seite|folie|diapositive|página|pagina|diapositiva)\b",
    re.IGNORECASE,
)
_LAST = re.compile(
    r"\b(?:(?:last|final)\s+(?:page|slide)|back\s+cover|letzte[nrs]?\s+(?:seite|folie)|"
    r"dernière\s+(?:page|diapositive)|última\s+(?:página|pagina|diapositiva)|contraportada)\b",
    re.IGNORECASE,
)


_PART_OF = re.compile(
    r"\s+(?:of|in|from)\s+(?:the\s+|this\s+|that\s+|its\s+|each\s+)?([^\W\d_]+)", re.IGNORECASE
)
_PARTS = frozenset(
    (
        "appendix",
        "appendices",
        "annex",
        "annexes",
        "chapter",
        "chapters",
        "section",
        "sections",
        "part",
        "parts",
        "references",
        "bibliography",
        "glossary",
        "index",
        "introduction",
        "conclusion",
        "conclusions",
        "abstract",
        "attachment",
        "attachments",
        "exhibit",
        "exhibits",
        "schedule",
        "supplement",
        "chart",
        "table",
        "figure",
        "unit",
        "lesson",
        "module",
    )
)
"""Parts of a document: "the first page of the appendix" is a page inside a part, which a position in the
whole document cannot find ("the first page of the report" is page 1)."""


def _in_a_part(question: str, end: int) -> bool:
    """Whether the page named just before ``end`` lies in a part of the document ("... of the appendix")."""
    m = _PART_OF.match(question, end)
    return m is not None and m.group(1).casefold() in _PARTS


@dataclass(frozen=True, slots=True)
class PageRefs:
    """The pages a question names.

    Attributes:
        numbers: page numbers named ("page 17", "slides 3-5"): printed numbers or positions.
        first: the question names the first page (cover, title page).
        last: the question names the last page (1) or the second last (2); 0: neither.
    """

    numbers: tuple[int, ...] = ()
    first: bool = False
    last: int = 0

    def __bool__(self) -> bool:
        return bool(self.numbers or self.first or self.last)

    def positions(self, page_count: int) -> tuple[int, ...]:
        """Page positions (1-based) these references can mean in a document of ``page_count`` pages."""
        found = {n for n in self.numbers if 1 <= n <= page_count}
        if self.first:
            found.add(1)
        if self.last and page_count - self.last + 1 >= 1:
            found.add(page_count - self.last + 1)
        return tuple(sorted(found))


def page_refs(question: str) -> PageRefs:
    """The pages ``question`` names.

    Example:
        >>> page_refs("What is the title of the diagram on page 9?")
        PageRefs(numbers=(9,), first=False, last=0)
        >>> page_refs("How many people are on the cover and on slides 3-4?")
        PageRefs(numbers=(3, 4), first=True, last=0)
        >>> bool(page_refs("How many pages does the report have?"))
        False
        >>> bool(page_refs("What is on the first page of the appendix?"))  # a page inside a part
        False
    """
    numbers: set[int] = set()
    for m in _NUMBER.finditer(question):
        start = int(m.group(1))
        numbers.add(start)
        if m.group(3):
            end = int(m.group(3))
            if m.group(2) in ("-", "–", "to", "bis", "à", "a") and 0 < end - start <= MAX_RANGE:
                numbers.update(range(start, end + 1))
            else:
                numbers.add(end)
    for m in _ORDINAL.finditer(question):
        if not _SECOND_LAST.match(question, m.start()) and not _in_a_part(question, m.end()):
            numbers.add(int(m.group(1)) if m.group(1) else _ORDINAL_WORDS.index(m.group(2).lower()) + 1)
    for m in _SPELLED.finditer(question):
        numbers.add(_NUMBER_WORDS.index(m.group(1).lower()) + 1)
    numbers.discard(0)

    def names(pattern: re.Pattern[str]) -> bool:
        return any(not _in_a_part(question, m.end()) for m in pattern.finditer(question))

    last = 2 if names(_SECOND_LAST) else 1 if names(_LAST) else 0
    return PageRefs(tuple(sorted(numbers)), first=names(_FIRST), last=last)
