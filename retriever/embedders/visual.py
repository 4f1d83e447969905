"""Helpers shared by the full-size adapters: page images in, pooled multi-vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from pagerag.ingest.errors import ConfigError, ModelError
from pagerag.ingest.types import Page
from pagerag.retriever import maxsim
from pagerag.retriever.embedders.device import AdaptiveBatcher
from pagerag.retriever.types import Embedding, FloatArray, VectorSpec

if TYPE_CHECKING:
    from PIL import Image

Side = Literal["query", "document"]


def load_page_image(page: Page) -> Image.Image:
    """Opens a page's saved image as RGB.

    Raises:
        ModelError: the page has no image, or the file is missing or unreadable;
            the message names the document and page.
    """
    from PIL import Image, UnidentifiedImageError

    where = f"{page.source} page {page.page}"
    if page.image_path is None:
        raise ModelError(f"{where}: no page image (image_path is None); a visual model needs one")
    try:
        with Image.open(page.image_path) as img:
            return img.convert("RGB")
    except FileNotFoundError as exc:
        raise ModelError(f"{where}: page image {page.image_path} does not exist") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ModelError(f"{where}: page image {page.image_path} is unreadable: {exc}") from exc


def load_page_images(pages: Sequence[Page]) -> list[Image.Image]:
    """:func:`load_page_image` for each page, in order."""
    return [load_page_image(p) for p in pages]


def parse_pooling(pooling: str | None, *, grid_ok: bool) -> tuple[str, int] | None:
    """Validates a pooling option and returns ``(kind, parameter)`` or None.

    Accepted: ``None``/``"none"``; ``"rows_cols"`` (mean of each row and each column of
    the image-patch grid; visual models with a grid only); ``"tokens"`` or
    ``"tokens:F"`` (hierarchical token pooling, pool factor F, default 2);
    ``"mean:G"`` (mean of consecutive groups of G tokens).

    Raises:
        ConfigError: an unknown or malformed value.
    """
    if pooling is None or pooling == "none":
        return None
    kind, _, arg = pooling.partition(":")
    if kind == "rows_cols" and not arg:
        if not grid_ok:
            raise ConfigError("pooling 'rows_cols' needs an image-patch grid: not for this model")
        return ("rows_cols", 0)
    value = int(arg) if arg.isdigit() else (2 if kind == "tokens" and not arg else 0)
    if kind in ("tokens", "mean") and value >= 1:
        return (kind, value)
    raise ConfigError(f"unknown pooling {pooling!r}: use none, rows_cols, tokens[:F] or mean:G")


def pool_grid(patches: FloatArray, rows: int, cols: int) -> FloatArray:
    """Row means then column means of a (rows * cols, d) patch grid, each L2-normalised.

    A page of rows x cols patches keeps rows + cols vectors (Qdrant's mean pooling by
    rows and columns for a first-stage multi-vector).

    Raises:
        ModelError: the number of patches is not rows * cols.
    """
    if patches.shape[0] != rows * cols:
        raise ModelError(f"{patches.shape[0]} image patches do not form a {rows}x{cols} grid")
    grid = patches.reshape(rows, cols, patches.shape[1])
    return maxsim.normalize(np.concatenate([grid.mean(axis=1), grid.mean(axis=0)]))


def pool(
    multi: FloatArray, option: tuple[str, int] | None, grid: tuple[FloatArray, int, int] | None = None
) -> FloatArray | None:
    """Applies a parsed pooling option to one page's multi-vector.

    Args:
        multi: the page's (n, d) multi-vector.
        option: from :func:`parse_pooling`.
        grid: for ``rows_cols``: the image-patch rows of ``multi`` and the grid shape.
    """
    if option is None:
        return None
    kind, arg = option
    if kind == "rows_cols":
        if grid is None:
            raise ModelError("rows_cols pooling needs the image-patch grid of the page")
        patches, rows, cols = grid
        return pool_grid(patches, rows, cols)
    if kind == "tokens":
        return maxsim.pool_hierarchical(multi, arg)
    return maxsim.pool_mean(multi, arg)


def mean_vector(multi: FloatArray) -> FloatArray:
    """The L2-normalised mean of a multi-vector: a single dense vector for models without one."""
    if multi.shape[0] == 0:
        return np.zeros(multi.shape[1], dtype=np.float32)
    return maxsim.normalize(multi.mean(axis=0))


def multi_specs(dim: int, pooled: bool) -> tuple[VectorSpec, VectorSpec | None]:
    """The collection's ``multi`` (rerank only: no HNSW) and ``pooled`` (first stage) vectors."""
    multi = VectorSpec("multi", dim, "cosine", multivector=True, hnsw=False)
    return multi, (VectorSpec("pooled", dim, "cosine", multivector=True) if pooled else None)


class TextSides:
    """``embed_pages`` / ``embed_queries`` of a text model: pages by their text, batched by length.

    A subclass sets ``batcher`` and implements ``_encode(texts, side)``.
    """

    batcher: AdaptiveBatcher

    def _encode(self, texts: list[str], side: Side) -> list[Embedding]:
        raise NotImplementedError

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        """Embeds each page's text as a document (document prompt or marker)."""
        texts = [p.text for p in pages]
        return self.batcher.map(lambda b: self._encode(b, "document"), texts, sort_key=len)

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        """Embeds queries (query prompt or marker)."""
        return self.batcher.map(lambda b: self._encode(b, "query"), list(texts), sort_key=len)
