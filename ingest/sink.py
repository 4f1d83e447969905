"""Where ingested pages go.

Ingestion owns the page table (the source of truth for what is indexed); a
:class:`PageSink` receives the pages so that another layer (the retriever's
embed-and-store sink) can make them searchable. Ingestion drives the sink in this
order, per document::

    sink.write(doc, pages_batch)   # any number of times: pages stay invisible
    sink.publish(doc_id, replaces) # all pages of doc become visible at once,
                                   # the replaced documents' pages vanish in the same step
    sink.remove(doc_ids)           # documents deleted (--sync, remove, crash clean-up)
    sink.rename(doc_id, source)    # a moved file: new source path, no re-embedding
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pagerag.ingest.types import DocumentInfo, Page


class PageSink(Protocol):
    """Receives pages from ingestion; see the module docstring for the call order."""

    def write(self, doc: DocumentInfo, pages: Sequence[Page]) -> None: ...

    def publish(self, doc_id: str, replaces: Sequence[str] = ()) -> None: ...

    def remove(self, doc_ids: Sequence[str]) -> None: ...

    def rename(self, doc_id: str, source: str) -> None: ...

    def published_doc_ids(self) -> set[str]:
        """Documents whose pages are visible (used to reconcile after a crash)."""
        ...

    def close(self) -> None: ...


class NullSink:
    """A sink that keeps nothing: ingestion into the page table alone."""

    def __init__(self) -> None:
        self._published: set[str] = set()

    def write(self, doc: DocumentInfo, pages: Sequence[Page]) -> None:
        return None

    def publish(self, doc_id: str, replaces: Sequence[str] = ()) -> None:
        self._published.difference_update(replaces)
        self._published.add(doc_id)

    def remove(self, doc_ids: Sequence[str]) -> None:
        self._published.difference_update(doc_ids)

    def rename(self, doc_id: str, source: str) -> None:
        return None

    def published_doc_ids(self) -> set[str]:
        return set(self._published)

    def close(self) -> None:
        return None
