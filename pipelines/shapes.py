"""One JSON shape for what pagerag returns: the CLI's ``--json`` and the HTTP API.

A hit is :func:`pagerag.retriever.shape.hit_json`; an answer, a document and an ingest
report are here. The schema of all of them: ``docs/schema/pagerag.schema.json``.
"""

from __future__ import annotations

from typing import Any

from pagerag.ingest.types import DocumentInfo, IngestReport
from pagerag.pipelines.answer import Answer
from pagerag.retriever.shape import Links, file_links, hit_json, thumbnail_of

__all__ = ["answer_json", "document_json", "file_links", "hit_json", "report_json", "thumbnail_of"]


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
