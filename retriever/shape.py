"""One JSON shape for a retrieved page, wherever pagerag hands one out.

``{doc_id, source, page, label, score, image, thumbnail, snippet, title}``: the CLI's
``--json``, the HTTP API, answers' citations and LangChain ``Document.metadata``.
``image`` and ``thumbnail`` are file paths on this machine, or what ``links`` makes of
them (the HTTP API gives URLs). The schema is in ``docs/schema/pagerag.schema.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pagerag.retriever.types import Hit

Links = Callable[[str, int, Path | None], tuple[str | None, str | None]]
"""``(doc_id, page, image_path) -> (image, thumbnail)`` as the reader should get them."""


def thumbnail_of(image: Path) -> Path:
    """The thumbnail saved beside a page image (``key.jpg`` -> ``key.thumb.jpg``)."""
    return image.with_name(f"{image.stem}.thumb{image.suffix}")


def file_links(doc_id: str, page: int, image: Path | None) -> tuple[str | None, str | None]:
    """The page image and its thumbnail as paths on this machine."""
    if image is None:
        return None, None
    return str(image), str(thumbnail_of(image))


def hit_json(hit: Hit, links: Links = file_links, *, snippet: int = 200) -> dict[str, Any]:
    """One retrieved page as plain JSON values.

    Example:
        >>> hit = Hit("report.pdf", 2, 1.5, "Total 2023 revenue: $4.2M", None, "ab12", "Report", (7,))
        >>> hit_json(hit)["label"], hit_json(hit)["image"]
        (7, None)
    """
    image, thumbnail = links(hit.doc_id, hit.page, hit.image_path)
    return {
        "doc_id": hit.doc_id,
        "source": hit.source,
        "page": hit.page,
        "label": hit.labels[0] if hit.labels else None,
        "score": hit.score,
        "image": image,
        "thumbnail": thumbnail,
        "snippet": hit.snippet(snippet),
        "title": hit.title,
    }
