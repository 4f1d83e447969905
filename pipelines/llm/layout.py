"""A page's visual rows, rebuilt from its word boxes: the rows of its tables with their cells.

A text layer often stores a table one cell per line (``2001``, ``2002``, ... ``895``,
``3.4%``, ...), and OCR reads a row's cells in one line: neither says which value
belongs to which label. Grouping the page's words (:meth:`Catalog.words`) by their
vertical position gives the rows as they are drawn; a gap wider than about two
characters separates cells (``" | "``). Milliseconds a page: done when a question is
answered, nothing is stored.

Example:
    >>> words = [WordBox("Total", 0, 0, 40, 10), WordBox("895", 100, 0, 120, 10)]
    >>> layout_rows([*words, WordBox("1,104", 150, 1, 180, 11)])
    'Total | 895 | 1,104'
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence

from pagerag.ingest.types import WordBox


def layout_rows(words: Sequence[WordBox]) -> str:
    """The page's words as visual rows (one a line), cells split by ``" | "``."""
    boxes = [w for w in words if w.text.strip() and w.y1 > w.y0]
    if not boxes:
        return ""
    height = statistics.median(w.y1 - w.y0 for w in boxes)
    rows: list[list[WordBox]] = []
    for w in sorted(boxes, key=lambda b: ((b.y0 + b.y1) / 2, b.x0)):
        middle = (w.y0 + w.y1) / 2
        if rows and abs(middle - _middle(rows[-1])) <= height * 0.45:
            rows[-1].append(w)
        else:
            rows.append([w])
    return "\n".join(_row_text(sorted(row, key=lambda b: b.x0), height) for row in rows)


def _middle(row: Sequence[WordBox]) -> float:
    return statistics.fmean((w.y0 + w.y1) / 2 for w in row)


def _row_text(row: Sequence[WordBox], height: float) -> str:
    parts = [" ".join(row[0].text.split())]
    for prev, word in itertools.pairwise(row):
        gap = word.x0 - prev.x1
        parts.append(" | " if gap > height * 1.1 else " ")
        parts.append(" ".join(word.text.split()))
    return "".join(parts)
