"""One JSON shape for what pagerag returns: the CLI's ``--json``, the HTTP API and the MCP tools.

A hit is ``{doc_id, source, page, label, score, image, thumbnail, snippet, title}``; ``image``
and ``thumbnail`` are file paths for the CLI and URLs for the HTTP API (``links``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pagerag.ingest.types import DocumentInfo, IngestReport
from pagerag.pipelines.answer import Answer
from pagerag.retriever.types import Hit

Links = Callable[[str, int, Path | None], tuple[str | None, str | None]]
"""``(doc_id, page, image_path) -> (image, thumbnail)`` as the reader should get them."""


def file_links(doc_id: str, page: int, image: Path | None) -> tuple[str | None, str | None]:
    """Paths on this machine (the CLI)."""
    if image is None:
        return None, None
    return str(image), str(thumbnail_of(image))


def thumbnail_of(image: Path) -> Path:
    """The thumbnail saved beside a page image (``key.jpg`` -> ``key.thumb.jpg``)."""
    return image.with_name(f"{image.stem}.thumb{image.suffix}")


def hit_json(hit: Hit, links: Links = file_links, *, snippet: int = 200) -> dict[str, Any]:
    """One retrieved page."""
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


def answer_json(answer: Answer, links: Links = file_links) -> dict[str, Any]:
    """An answer: its text, whether it answered, the cited pages (with their ``n``) and the retrieved ones."""
    hits = [hit_json(h, links) for h in answer.hits]
    return {
        "question": answer.question,
        "answer": answer.text,
        "answered": answer.found,
        "citations": [{"n": c.n, **hits[c.n - 1]} for c in answer.citations if 0 < c.n <= len(hits)],
        "hits": hits,
        "search_query": answer.search_query,
        "llm": answer.llm,
        "timings": {key: round(value, 4) for key, value in answer.timings.items()},
    }


def document_json(doc: DocumentInfo) -> dict[str, Any]:
    """A document of the index."""
    return {
        "doc_id": doc.doc_id,
        "source": doc.source,
        "pages": doc.pages,
        "title": doc.title,
        "kind": doc.kind,
        "indexed_at": doc.indexed_at,
    }


def report_json(report: IngestReport) -> dict[str, Any]:
    """An ingest run's report."""
    return {
        "documents": report.documents,
        "pages": report.pages,
        "indexed": report.indexed,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "renamed": report.renamed,
        "pages_indexed": report.pages_indexed,
        "skipped": [{"path": p.path, "reason": p.reason} for p in report.skipped],
        "failed": [{"path": p.path, "reason": p.reason} for p in report.failed],
        "seconds": report.seconds,
    }
