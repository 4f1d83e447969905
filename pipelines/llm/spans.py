"""Candidate answer spans of a page: lines, sentences of long lines, table rows and cells.

A table row is a line with a label and two or more values (numbers, or cells split by
``|``); its header is the nearest line above it with as many cells (years, dates,
column names). A row whose values line up with its header also gives one span per
cell ("Total data sets available, Sept. 30, 2011: 389,933"). Every span is made of
words of its page only, so quoting it can never state a number that is not there.

Example:
    >>> [s.text for s in page_spans(1, "Sales | 2022 | 2023\\nTotal | 3.1 | 4.2")][-1]
    'Total, 2023: 4.2'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE = re.compile(r"(?<=[.!?;。！？])\s+(?=[^a-z])")
_VALUE = re.compile(r"^[(\-–$€£¥]*\d[\d.,]*\s?(?:%|[MBKk]|bn|m)?\)?[*]?$|^(?:NA|N/A|n/a|-|–)$")
_WORDS = re.compile(r"\w+")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_LEADER = re.compile(r"\s*(?:\.\s?){4,}\s*")
LAYOUT_START = 100_000
"""Line numbers of the layout's rows start here, apart from the text's lines."""
MAX_TITLE_WORDS = 15
"""A first line this short is the page's title (context for its other lines); a longer one is prose."""
MAX_HEADER_GAP = 30
"""Lines between a row and its header: tables rarely run longer under one header on a page."""


@dataclass(frozen=True, slots=True)
class Span:
    """One candidate answer.

    Attributes:
        n: the source number it is cited by.
        line: the index of its line on the page (neighbours and order).
        text: what the answer quotes.
        context: words that qualify it (a row's header, a cell's column, the page title), half weight.
        kind: ``"line"``, ``"sentence"``, ``"header"`` (a table's column names), ``"row"`` or ``"cell"``.
        match: a cell's label and value (its column is context); empty: the text.
    """

    n: int
    line: int
    text: str
    context: str
    kind: str
    match: str = ""

    @property
    def words(self) -> str:
        """What the question is matched against at full weight: a cell's label and value, else its text."""
        return self.match or self.text


def page_spans(n: int, text: str, layout: str = "") -> list[Span]:
    """Every candidate span of one page: from its text, and the table rows and cells of its ``layout``."""
    spans = _spans(n, page_lines(text), 0)
    if layout:
        seen = {s.text for s in spans}
        rows = _spans(
            n, _wrapped_labels([" ".join(line.split()) for line in layout.splitlines()]), LAYOUT_START
        )
        rows = [s for s in rows if s.kind in ("header", "row", "cell") and s.text not in seen]
        drawn = [_flat(s.text) for s in rows if s.kind == "row"]
        # a text line that a drawn row holds whole is that row without its values
        spans = [s for s in spans if s.kind != "line" or not any(_flat(s.text) in r for r in drawn)]
        spans += rows
    return spans


def _wrapped_labels(lines: list[str]) -> list[str]:
    """Visual rows with a wrapped row label joined: "Exportaciones totales" + "pesqueras | 895 | ..."."""
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        prev = out[-1] if out else ""
        if prev and "|" not in prev and "|" in line and line[0].islower() and len(prev.split()) <= 6:
            out[-1] = f"{prev} {line}"
        else:
            out.append(line)
    return out


def _flat(text: str) -> str:
    return " ".join(text.replace("|", " ").split())


def _spans(n: int, lines: list[str], offset: int) -> list[Span]:
    title = lines[0] if lines and len(lines[0].split()) <= MAX_TITLE_WORDS else ""
    spans: list[Span] = []
    header: tuple[int, list[str]] | None = None
    for i, line in enumerate(lines):
        line = _LEADER.sub(" ", line).strip()
        cells = _cells(line)
        near = header is not None and i - header[0] <= MAX_HEADER_GAP
        if cells is not None and _is_header(cells, dated_only=near):
            header = (i, cells)
        sentences = [s.strip() for s in _SENTENCE.split(line) if s.strip()]
        if len(sentences) > 1:
            spans.extend(Span(n, offset + i, s, title, "sentence") for s in sentences)
        if cells is None:
            spans.append(Span(n, offset + i, line, title, "line"))
            continue
        if header is not None and header[0] == i:
            spans.append(Span(n, offset + i, line, "", "header"))
            continue
        if header is None or i - header[0] > MAX_HEADER_GAP:
            spans.append(Span(n, offset + i, line, "", "row"))
            continue
        head = header[1]
        spans.append(Span(n, offset + i, line, " ".join(head), "row"))
        label, values = cells[0], cells[1:]
        columns = head if len(head) == len(values) else []  # cells only where they line up one to one
        for column, value in zip(columns, values, strict=False):
            if _VALUE.match(value) and column:
                spans.append(
                    Span(n, offset + i, f"{label}, {column}: {value}", column, "cell", f"{label} {value}")
                )
    return spans


def page_lines(text: str) -> list[str]:
    """Lines with wrapped prose re-joined: a long line that ends mid-sentence continues on the next."""
    out: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line:
            out.append("")
            continue
        prev = out[-1] if out else ""
        wrapped = len(prev) >= 50 and not prev.endswith((".", "!", "?", ":", ";")) and not _cells(prev)
        if prev and (wrapped or line[0].islower()) and _cells(line) is None:
            out[-1] = f"{prev} {line}"
        else:
            out.append(line)
    return [line for line in out if line]


def _cells(line: str) -> list[str] | None:
    """A table row's cells (label first), or None for a line that is no row."""
    if line.count("|") >= 1:
        cells = [c.strip() for c in line.split("|")]
        cells = [c for c in cells if c]
        return cells if len(cells) >= 2 else None
    tokens = line.split()
    values: list[str] = []
    while tokens and _VALUE.match(tokens[-1]):
        values.insert(0, tokens.pop().rstrip(","))
    if len(values) < 2 or not tokens or not any(c.isalpha() for c in " ".join(tokens)):
        return None
    label = " ".join(tokens).rstrip(":").strip()
    return [label, *values]


def _is_header(cells: list[str], *, dated_only: bool) -> bool:
    """Column names: years or dates, or (``dated_only`` False: a table's first row) words."""
    values = cells[1:] if not _YEAR.search(cells[0]) else cells
    if len(values) < 2:
        return False
    years = sum(bool(_YEAR.search(c)) for c in values)
    numbers = sum(bool(_VALUE.match(c)) and not _YEAR.fullmatch(c.strip()) for c in values)
    return years >= 2 or (not dated_only and numbers == 0 and all(_WORDS.search(c) for c in values))
