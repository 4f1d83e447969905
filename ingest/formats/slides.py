"""The slides' own text from a .pptx deck, with python-pptx.

A deck's PDF (see :mod:`pagerag.ingest.formats.office`) gives the page images; this module gives
each slide's text as the author typed it: every shape's text (placeholders, text boxes, auto
shapes, tables, groups, SmartArt, chart titles and labels) and the speaker notes apart.
Hidden slides are kept, in deck order, so that ``slide_texts(deck)[n - 1]`` is page n.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from pagerag.ingest.errors import UnreadableDocument
from pagerag.ingest.formats.office import check_signature, display

_DIAGRAM_URI = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
_A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"


@dataclass(frozen=True, slots=True)
class SlideText:
    """The text of one slide.

    Attributes:
        index: 1-based position in the deck, hidden slides counted (page N of the PDF).
        text: the text of the slide's shapes, title first, one paragraph a line.
        notes: the speaker notes ("" when there are none).
        hidden: the slide is hidden in the slide show (it is still exported and indexed).
    """

    index: int
    text: str
    notes: str
    hidden: bool


def slide_texts(path: Path) -> list[SlideText]:
    """Read every slide's text and speaker notes from a .pptx deck.

    Args:
        path: a .pptx (or .pptm) file.

    Returns:
        One :class:`SlideText` per slide in deck order, hidden slides included.

    Raises:
        UnreadableDocument: the file is not a readable PowerPoint deck (corrupt, truncated,
            empty, unreadable); ``reason`` says why. Its subclass ``EncryptedDocument`` for a
            password-protected deck.
        UnsupportedFormat: the content is not a .pptx (zip) file.

    Example:
        >>> [s.index for s in slide_texts(Path("deck.pptx"))]  # doctest: +SKIP
        [1, 2, 3]
    """
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    check_signature(path)
    try:
        deck = Presentation(str(path))
    except PackageNotFoundError as exc:
        # check_signature passed, so the file exists and starts like a zip: it is damaged.
        raise UnreadableDocument(
            display(path), "corrupt or truncated .pptx (unreadable zip archive)"
        ) from exc
    except zipfile.BadZipFile as exc:
        raise UnreadableDocument(display(path), f"corrupt or truncated .pptx (bad zip): {exc}") from exc
    except OSError as exc:
        raise UnreadableDocument(display(path), f"cannot read the file: {exc.strerror or exc}") from exc
    except (KeyError, ValueError, SyntaxError) as exc:
        # Missing parts, bad content types, malformed XML (lxml's errors derive from SyntaxError).
        raise UnreadableDocument(display(path), f"corrupt .pptx: {type(exc).__name__}: {exc}") from exc

    slides: list[SlideText] = []
    try:
        for index, slide in enumerate(deck.slides, start=1):
            slides.append(
                SlideText(
                    index=index,
                    text=_join(_slide_lines(slide)),
                    notes=_notes(slide),
                    hidden=slide._element.get("show") in ("0", "false"),
                )
            )
    except (KeyError, ValueError, SyntaxError, AttributeError) as exc:
        raise UnreadableDocument(
            display(path), f"corrupt .pptx (slide {len(slides) + 1}): {type(exc).__name__}: {exc}"
        ) from exc
    return slides


def _slide_lines(slide: Any) -> Iterator[str]:
    title = slide.shapes.title
    if title is not None:
        yield from _shape_lines(title, slide)
    for shape in slide.shapes:
        if title is not None and shape.shape_id == title.shape_id:
            continue
        yield from _shape_lines(shape, slide)


def _shape_lines(shape: Any, slide: Any) -> Iterator[str]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for child in shape.shapes:
            yield from _shape_lines(child, slide)
        return
    if shape.has_text_frame:
        yield from _paragraphs(shape.text_frame.text)
    if getattr(shape, "has_table", False):
        for row in shape.table.rows:
            cells = [" ".join(_paragraphs(cell.text)) for cell in row.cells]
            if any(cells):
                yield " | ".join(cells)
    if getattr(shape, "has_chart", False):
        yield from _chart_lines(shape.chart)
    if shape._element.xpath("./a:graphic/a:graphicData/@uri") == [_DIAGRAM_URI]:
        yield from _smartart_lines(shape, slide)


def _chart_lines(chart: Any) -> Iterator[str]:
    if chart.has_title and chart.chart_title.has_text_frame:
        yield from _paragraphs(chart.chart_title.text_frame.text)
    plot = chart.plots[0] if len(chart.plots) else None
    if plot is None:
        return
    categories = [str(c) for c in plot.categories]
    if any(categories):
        yield " | ".join(categories)
    for series in plot.series:
        values = ", ".join(_number(v) for v in series.values if v is not None)
        yield f"{series.name}: {values}" if series.name else values


def _smartart_lines(shape: Any, slide: Any) -> Iterator[str]:
    # python-pptx has no SmartArt API: the text lives in the diagram data part named by r:dm.
    rel_ids = shape._element.xpath("./a:graphic/a:graphicData/*/@r:dm")
    for rel_id in rel_ids:
        part = slide.part.related_part(rel_id)
        root = etree.fromstring(part.blob)
        for paragraph in root.iter(f"{{{_A_NS}}}p"):
            text = "".join(t.text or "" for t in paragraph.iter(f"{{{_A_NS}}}t")).strip()
            if text:
                yield text


def _notes(slide: Any) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return _join(_paragraphs(frame.text)) if frame is not None else ""


def _paragraphs(text: str) -> Iterator[str]:
    # python-pptx renders a line break (<a:br/>) inside a paragraph as a vertical tab.
    for line in text.replace("\v", "\n").splitlines():
        stripped = line.strip()
        if stripped:
            yield stripped


def _join(lines: Iterable[str]) -> str:
    return "\n".join(lines)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
