"""Printed page numbers: the numbers a reader sees on a page, which often are not its position.

A question like "what is in the figure on page 17?" usually means the number printed in
the page's header or footer: a report with a cover and a table of contents prints "17"
on its 20th page, and a brochure of two-page spreads prints "16" and "17" on its 10th.
For each page this module finds the numbers it is labelled with:

1. the PDF's own page labels (``/PageLabels``), when they are numbers;
2. a number standing alone on a header or footer line (top or bottom 10% of the page,
   at most a few words on that line, at most two such numbers on a page: a spread);
3. when most labelled pages agree on one offset from their position, the pages in
   between without a printed number get position + offset (a chapter start, a full-page
   figure).

Only the text layer is used (scans get no labels; their position still counts).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

_NUMBER = re.compile(r"^[(\[]?(\d{1,4})[)\].]?$")
_STRIP = "-–—|·• "
BAND = 0.1
"""Share of the page height at the top and at the bottom where page numbers are looked for."""
MAX_LINE_WORDS = 8
"""A header/footer line with more words than this is running text, not a page number line."""


def printed_numbers(words: Sequence[tuple[Any, ...]], height: float, page_count: int) -> tuple[int, ...]:
    """Page numbers printed on one page, from PyMuPDF ``get_text("words")`` tuples.

    Args:
        words: ``(x0, y0, x1, y1, word, block, line, word_no)`` tuples.
        height: the page height in points.
        page_count: pages in the document (a number far above it is a year or a total, not a page).

    Example:
        >>> printed_numbers([(300, 770, 310, 780, "17", 9, 0, 0)], 792, 30)
        (17,)
    """
    lines: dict[tuple[int, int], list[str]] = {}
    top, bottom = BAND * height, (1 - BAND) * height
    for w in words:
        if w[3] <= top or w[1] >= bottom:
            lines.setdefault((int(w[5]), int(w[6])), []).append(str(w[4]))
    found: set[int] = set()
    limit = 2 * page_count + 10
    for texts in lines.values():
        numbers = [int(m.group(1)) for t in texts if (m := _NUMBER.match(t.strip(_STRIP)))]
        if len(numbers) == 1 and len(texts) <= MAX_LINE_WORDS and 0 < numbers[0] <= limit:
            found.add(numbers[0])
    if len(found) > 2:  # a table or a list at the edge of the page, not page numbers
        return ()
    return tuple(sorted(found))


def numeric_label(label: str) -> int | None:
    """A PDF page label as a number ("17" -> 17, "A-3" -> None, "iii" -> None)."""
    label = label.strip()
    return int(label) if label.isdigit() and len(label) <= 4 else None


def fill_offsets(found: Sequence[tuple[int, ...]], *, min_votes: int = 3) -> tuple[tuple[int, ...], ...]:
    """Give unlabelled pages ``position + offset`` when the labelled pages agree on one offset.

    Args:
        found: per page (index 0 is page 1), the numbers found on it.
        min_votes: pages that must share the offset, and at least 30% of the labelled ones.

    Example:
        >>> fill_offsets([(), (), (), (1,), (2,), (), (4,)])
        ((), (), (), (1,), (2,), (3,), (4,))
    """
    votes = Counter(n - (i + 1) for i, numbers in enumerate(found) for n in numbers)
    labelled = sum(1 for numbers in found if numbers)
    if not votes:
        return tuple(found)
    offset, count = votes.most_common(1)[0]
    if count < min_votes or count < 0.3 * labelled:
        return tuple(found)
    first = next(i for i, numbers in enumerate(found) if (i + 1 + offset) in numbers)
    return tuple(numbers if numbers or i < first else (i + 1 + offset,) for i, numbers in enumerate(found))


def pdf_page_labels(doc: Any) -> tuple[tuple[int, ...], ...]:
    """Printed page numbers of every page of an open PyMuPDF document (see the module doc)."""
    count = int(doc.page_count)
    found: list[tuple[int, ...]] = []
    for index in range(count):
        page = doc[index]
        numbers: set[int] = set()
        try:
            label = numeric_label(page.get_label() or "")
        except Exception:  # a damaged /PageLabels tree: fall back to the printed numbers
            label = None
        if label is not None:
            numbers.add(label)
        try:
            words = page.get_text("words")
        except Exception:
            words = []
        numbers.update(printed_numbers(words, float(page.rect.height), count))
        found.append(tuple(sorted(numbers)) if len(numbers) <= 2 else ((label,) if label else ()))
    return fill_offsets(found)
