"""Word boxes on page images: tesseract's TSV read, boxes moved between images, a compact encoding.

Every box is in pixels of the stored page image, so a viewer draws it on that image
as it is. The text layer's words come from :func:`pagerag.ingest.formats.pdf.text_words`;
OCR's come from tesseract's TSV (:func:`from_tsv`) in the pixels of the image OCR read,
and :func:`moved` places them on the page image.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence

from pagerag.ingest.types import WordBox

_FORMAT = b"w1"  # first bytes of an encoded list; a later layout gets another tag


Box = tuple[str, float, float, float, float]
"""A word and its box (x0, y0, x1, y1) in some image's or page's own coordinates."""


def from_tsv(tsv: str) -> list[Box]:
    r"""The words of tesseract's ``tsv`` output (level 5 rows with text), in reading order.

    Example:
        >>> row = "5\t1\t1\t1\t1\t1\t10\t20\t30\t12\t96.5\tHarbour"
        >>> from_tsv("level\n" + row)
        [('Harbour', 10, 20, 40, 32)]
    """
    words: list[Box] = []
    for line in tsv.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        try:
            left, top, width, height = (int(c) for c in cols[6:10])
        except ValueError:
            continue
        words.append((cols[11].strip(), left, top, left + width, top + height))
    return words


def unrotated(words: Iterable[Box], degrees: int, size: tuple[int, int]) -> list[Box]:
    """Boxes read on ``image.rotate(-degrees, expand=True)`` put back on ``image`` (of ``size``).

    Example:
        >>> unrotated([("a", 0, 0, 10, 5)], 180, (100, 50))
        [('a', 90, 45, 100, 50)]
    """
    w, h = size
    turn = degrees % 360
    out: list[Box] = []
    for text, x0, y0, x1, y1 in words:
        if turn == 90:  # the upright image is the original turned clockwise
            out.append((text, y0, h - x1, y1, h - x0))
        elif turn == 180:
            out.append((text, w - x1, h - y1, w - x0, h - y0))
        elif turn == 270:
            out.append((text, w - y1, x0, w - y0, x1))
        else:
            out.append((text, x0, y0, x1, y1))
    return out


def moved(
    words: Iterable[Box],
    *,
    scale: tuple[float, float],
    offset: tuple[float, float] = (0.0, 0.0),
    size: tuple[int, int],
    ocr: bool,
) -> list[WordBox]:
    """Page-image boxes of ``words``: ``x * scale + offset`` per axis, rounded outwards, clipped to ``size``.

    Args:
        words: boxes in their source's coordinates (OCR pixels, PDF points).
        scale: factors for x and y.
        offset: added after scaling.
        size: width and height of the page image; boxes outside it are dropped.
        ocr: the words were read by OCR.

    Example:
        >>> moved([("a", 10, 10, 20, 15.2)], scale=(2.0, 2.0), size=(100, 100), ocr=False)
        [WordBox(text='a', x0=20, y0=20, x1=40, y1=31, ocr=False)]
    """
    (sx, sy), (dx, dy), (w, h) = scale, offset, size
    out = []
    for text, bx0, by0, bx1, by1 in words:
        x0 = max(0, math.floor(bx0 * sx + dx + 1e-6))
        y0 = max(0, math.floor(by0 * sy + dy + 1e-6))
        x1 = min(w, math.ceil(bx1 * sx + dx - 1e-6))
        y1 = min(h, math.ceil(by1 * sy + dy - 1e-6))
        if x1 > x0 and y1 > y0:
            out.append(WordBox(text, x0, y0, x1, y1, ocr=ocr))
    return out


def without_overlap(found: Sequence[WordBox], known: Sequence[WordBox]) -> list[WordBox]:
    """``found`` less the boxes whose centre lies in a box of ``known`` (a word read twice).

    OCR of a picture region also reads the text-layer words drawn over it (a chart's
    title, a caption inside the box); the text layer's copy is the exact one.
    """
    if not known:
        return list(found)
    kept = []
    for b in found:
        cx, cy = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2
        if not any(k.x0 <= cx <= k.x1 and k.y0 <= cy <= k.y1 for k in known):
            kept.append(b)
    return kept


def encode(words: Sequence[WordBox]) -> bytes:
    """A compact byte string of ``words`` (see :func:`decode`); b"" for none.

    One line per word, ``dx dy width height flag text``, deflated: ``dx`` from the end
    of the previous word, ``dy`` from its top, flag ``o`` for OCR and ``t`` for the text
    layer. Words in reading order repeat small offsets, which deflate well: about a
    quarter of the size of the same list as JSON, two thirds of deflated JSON.

    Example:
        >>> words = [WordBox("$4.2M", 10, 20, 40, 28, ocr=True), WordBox("total", 44, 20, 70, 28)]
        >>> decode(encode(words)) == words
        True
    """
    if not words:
        return b""
    lines = []
    right = top = 0
    for b in words:
        text = " ".join(b.text.split())
        lines.append(
            f"{b.x0 - right} {b.y0 - top} {b.x1 - b.x0} {b.y1 - b.y0} {'o' if b.ocr else 't'} {text}"
        )
        right, top = b.x1, b.y0
    return _FORMAT + zlib.compress("\n".join(lines).encode("utf-8"), 6)


def decode(data: bytes | None) -> list[WordBox]:
    """The words :func:`encode` wrote (empty for None, b"" or bytes of an unknown layout)."""
    if not data or not data.startswith(_FORMAT):
        return []
    try:
        lines = zlib.decompress(data[len(_FORMAT) :]).decode("utf-8")
    except (zlib.error, UnicodeDecodeError):
        return []
    words = []
    right = top = 0
    for line in lines.split("\n"):
        parts = line.split(" ", 5)
        if len(parts) != 6:
            continue
        dx, dy, width, height = (int(p) for p in parts[:4])
        x0, y0 = right + dx, top + dy
        words.append(WordBox(parts[5], x0, y0, x0 + width, y0 + height, ocr=parts[4] == "o"))
        right, top = x0 + width, y0
    return words
