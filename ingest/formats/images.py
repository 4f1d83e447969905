"""Image files as pages: one page per frame (multi-page TIFF), sized by the image's own DPI."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from pagerag.ingest.errors import UnreadableDocument
from pagerag.ingest.scan import display

DEFAULT_DPI = 150.0
"""Assumed resolution of an image that does not say (a typical scan / screenshot scale)."""
MAX_FRAME_PIXELS = 400_000_000
"""Frames above this are refused (a decompression bomb or a corrupt header)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of an image file, converted to RGB, and its size in points."""

    image: Image.Image
    width_pt: float
    height_pt: float


def _open(path: Path) -> Image.Image:
    name = display(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableDocument(name, f"not a readable image: {exc}") from exc
    except OSError as exc:
        raise UnreadableDocument(name, f"cannot read image: {exc}") from exc
    if image.width * image.height > MAX_FRAME_PIXELS:
        image.close()
        raise UnreadableDocument(name, f"image too large ({image.width}x{image.height} pixels)")
    return image


def frame_count(path: Path) -> int:
    """Number of frames (pages) in the image file.

    Raises:
        UnreadableDocument: it is not an image Pillow can read.
    """
    with _open(path) as image:
        return int(getattr(image, "n_frames", 1))


def load_frame(path: Path, index: int) -> Frame:
    """Frame ``index`` (0-based) as RGB, orientation applied, with its size in points.

    Raises:
        UnreadableDocument: the frame cannot be decoded (truncated or corrupt data).
    """
    with _open(path) as image:
        try:
            image.seek(index)
            dpi = image.info.get("dpi") or (DEFAULT_DPI, DEFAULT_DPI)
            frame = ImageOps.exif_transpose(image).convert("RGB")
        except (OSError, EOFError, ValueError) as exc:
            raise UnreadableDocument(display(path), f"frame {index + 1}: cannot decode: {exc}") from exc
    x_dpi = float(dpi[0]) if float(dpi[0]) >= 30 else DEFAULT_DPI
    y_dpi = float(dpi[1]) if float(dpi[1]) >= 30 else DEFAULT_DPI
    return Frame(frame, frame.width * 72.0 / x_dpi, frame.height * 72.0 / y_dpi)


def scaled(image: Image.Image, width_pt: float, height_pt: float, dpi: float, max_side: int) -> Image.Image:
    """``image`` resized to ``dpi`` for its size in points, never larger than ``max_side``."""
    target_w = width_pt / 72.0 * dpi
    target_h = height_pt / 72.0 * dpi
    factor = min(1.0, max_side / max(target_w, target_h, 1.0))
    size = (max(1, round(target_w * factor)), max(1, round(target_h * factor)))
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS if size[0] < image.width else Image.Resampling.BICUBIC)
