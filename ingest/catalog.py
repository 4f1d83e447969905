"""The page table: SQLite ``index_dir/catalog.sqlite``, the source of truth for what is indexed.

A document row is ``pending`` while its pages are being written and ``complete``
once they are all in (and published to the sink). Only complete documents are
listed; pending rows are what a killed run left behind, and the next run deletes
them. Every page keeps its text, layout facts and image key, so a vector store can
be rebuilt from this table alone, and its words with their boxes on the page image
(:mod:`pagerag.ingest.words` encodes them), read apart with :meth:`Catalog.words`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pagerag.ingest.errors import PageragError
from pagerag.ingest.images_store import ImageStore
from pagerag.ingest.types import DocumentInfo, Page, WordBox
from pagerag.ingest.words import decode, encode

SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    path BLOB NOT NULL,
    source TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT '',
    pages INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('pending', 'complete')),
    replaces TEXT NOT NULL DEFAULT '[]',
    indexed_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS documents_path ON documents(path);
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    page INTEGER NOT NULL,
    text TEXT NOT NULL,
    native_text TEXT NOT NULL,
    ocr_text TEXT NOT NULL,
    notes TEXT NOT NULL,
    image TEXT,
    width REAL NOT NULL,
    height REAL NOT NULL,
    ocr_used INTEGER NOT NULL,
    image_coverage REAL NOT NULL,
    lang TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '',
    words BLOB,
    PRIMARY KEY (doc_id, page)
);
"""
_PAGE_COLUMNS = (
    "page, text, native_text, ocr_text, notes, image, width, height, ocr_used, image_coverage, lang, labels"
)


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a catalog written by an earlier version up to this schema (columns added since)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(pages)")}
    if "labels" not in columns:
        db.execute("ALTER TABLE pages ADD COLUMN labels TEXT NOT NULL DEFAULT ''")
    if "words" not in columns:  # pages ingested before word boxes were kept have none (NULL)
        db.execute("ALTER TABLE pages ADD COLUMN words BLOB")


class Catalog:
    """The page table of one index directory.

    Example:
        >>> catalog = Catalog.open(Path(".pagerag"))  # doctest: +SKIP
        >>> [d.source for d in catalog.documents()]  # doctest: +SKIP
        ['report.pdf', 'deck.pptx']
        >>> catalog.page(catalog.documents()[0].doc_id, 1).text[:40]  # doctest: +SKIP
    """

    def __init__(self, index_dir: Path, db: sqlite3.Connection) -> None:
        self.index_dir = index_dir
        self.images = ImageStore(index_dir / "images")
        self._db = db

    @classmethod
    def open(cls, index_dir: Path) -> Catalog:
        """Open (creating if needed) the catalog of ``index_dir``."""
        index_dir = Path(index_dir).absolute()
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(index_dir / "catalog.sqlite", timeout=30, isolation_level=None)
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'pages'").fetchone() is None:
                db.execute("PRAGMA journal_mode=WAL")  # readers (search, list) never wait for a writer
                db.executescript(_SCHEMA)
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            _migrate(db)
        except (OSError, sqlite3.Error) as exc:
            raise PageragError(f"{index_dir}: cannot open the page catalog: {exc}") from exc
        return cls(index_dir, db)

    # Reading -------------------------------------------------------------------------------

    def documents(self) -> list[DocumentInfo]:
        """Complete documents, by source."""
        rows = self._db.execute(
            "SELECT doc_id, source, pages, title, indexed_at, kind FROM documents "
            "WHERE state = 'complete' ORDER BY source, doc_id"
        ).fetchall()
        return [DocumentInfo(*row) for row in rows]

    def document(self, doc_id: str) -> DocumentInfo | None:
        """One complete document, or None."""
        row = self._db.execute(
            "SELECT doc_id, source, pages, title, indexed_at, kind FROM documents "
            "WHERE doc_id = ? AND state = 'complete'",
            (doc_id,),
        ).fetchone()
        return DocumentInfo(*row) if row else None

    def locations(self) -> dict[str, tuple[Path, str]]:
        """``doc_id -> (absolute path, source)`` of complete documents."""
        rows = self._db.execute("SELECT doc_id, path, source FROM documents WHERE state = 'complete'")
        return {doc_id: (Path(os.fsdecode(path)), source) for doc_id, path, source in rows}

    def pending(self) -> list[str]:
        """Documents a previous run started and did not finish."""
        return [r[0] for r in self._db.execute("SELECT doc_id FROM documents WHERE state = 'pending'")]

    def pages(self, doc_id: str) -> list[Page]:
        """All pages of a complete document, in order."""
        doc = self._doc_row(doc_id)
        rows = self._db.execute(
            f"SELECT {_PAGE_COLUMNS} FROM pages WHERE doc_id = ? ORDER BY page", (doc_id,)
        ).fetchall()
        return [self._page(doc, row) for row in rows]

    def page(self, doc_id: str, page: int) -> Page:
        """One page (1-based) of a complete document.

        Raises:
            PageragError: there is no such document or page.
        """
        doc = self._doc_row(doc_id)
        row = self._db.execute(
            f"SELECT {_PAGE_COLUMNS} FROM pages WHERE doc_id = ? AND page = ?", (doc_id, page)
        ).fetchone()
        if row is None:
            raise PageragError(f"{doc[1]}: no page {page} (the document has {doc[2]})")
        return self._page(doc, row)

    def words(self, doc_id: str, page: int) -> list[WordBox]:
        """The words on one page (1-based) with their boxes in pixels of its page image.

        Empty for a page without words, and for pages ingested before word boxes were kept
        (ingest the document again to get them).

        Raises:
            PageragError: there is no such document or page.

        Example:
            >>> [w.text for w in catalog.words(doc_id, 2) if w.ocr][:3]  # doctest: +SKIP
            ['Quarterly', 'revenue', '2023']
        """
        doc = self._doc_row(doc_id)
        row = self._db.execute(
            "SELECT words FROM pages WHERE doc_id = ? AND page = ?", (doc_id, page)
        ).fetchone()
        if row is None:
            raise PageragError(f"{doc[1]}: no page {page} (the document has {doc[2]})")
        return decode(row[0])

    def counts(self) -> tuple[int, int]:
        """(documents, pages) that are complete."""
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(pages), 0) FROM documents WHERE state = 'complete'"
        ).fetchone()
        return int(row[0]), int(row[1])

    def image_keys(self) -> set[str]:
        """Image keys that some page (complete or pending) refers to."""
        return {r[0] for r in self._db.execute("SELECT DISTINCT image FROM pages WHERE image IS NOT NULL")}

    # Writing -------------------------------------------------------------------------------

    def begin(self, doc: DocumentInfo, path: Path, size: int, replaces: Sequence[str] = ()) -> None:
        """Record ``doc`` as pending (its pages about to be written), dropping any earlier attempt."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM documents WHERE doc_id = ? AND state = 'pending'", (doc.doc_id,))
            self._db.execute(
                "INSERT INTO documents (doc_id, path, source, title, kind, pages, size, state, replaces) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                (doc.doc_id, os.fsencode(path), doc.source, doc.title, doc.kind, doc.pages, size,
                 json.dumps(list(replaces))),
            )  # fmt: skip

    def add_pages(self, pages: Iterable[Page]) -> None:
        """Store pages of a pending document (one transaction)."""
        rows = [
            (p.doc_id, p.page, p.text, p.native_text, p.ocr_text, p.notes,
             p.image_path.stem if p.image_path else None, p.width, p.height,
             int(p.ocr_used), p.image_coverage, p.lang, ",".join(map(str, p.labels)), encode(p.words))
            for p in pages
        ]  # fmt: skip
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                f"INSERT OR REPLACE INTO pages (doc_id, {_PAGE_COLUMNS}, words) "
                f"VALUES ({', '.join('?' * 14)})",
                rows,
            )

    def complete(self, doc_id: str, pages: int, replaces: Sequence[str] = ()) -> None:
        """Mark ``doc_id`` complete with ``pages`` pages and delete the documents it replaces, at once."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "DELETE FROM documents WHERE doc_id = ?", [(r,) for r in replaces if r != doc_id]
            )
            self._db.execute(
                "UPDATE documents SET state = 'complete', pages = ?, indexed_at = ?, replaces = '[]' "
                "WHERE doc_id = ?",
                (pages, now, doc_id),
            )

    def rename(self, doc_id: str, path: Path, source: str) -> None:
        """A document's file moved: new path and source, same pages."""
        with self._db:
            self._db.execute(
                "UPDATE documents SET path = ?, source = ? WHERE doc_id = ?",
                (os.fsencode(path), source, doc_id),
            )

    def remove(self, doc_ids: Iterable[str]) -> None:
        """Delete documents (any state) and their pages."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM documents WHERE doc_id = ?", [(d,) for d in doc_ids])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Internals -----------------------------------------------------------------------------

    def _doc_row(self, doc_id: str) -> tuple[str, str, int, str]:
        row = self._db.execute(
            "SELECT doc_id, source, pages, title FROM documents WHERE doc_id = ? AND state = 'complete'",
            (doc_id,),
        ).fetchone()
        if row is None:
            raise PageragError(f"no document {doc_id[:12]} in the index {self.index_dir}")
        return row  # type: ignore[no-any-return]

    def _page(self, doc: tuple[str, str, int, str], row: tuple[object, ...]) -> Page:
        page, text, native, ocr_text, notes, image, width, height, ocr_used, coverage, lang, labels = row
        key = str(image) if image else None
        return Page(
            doc_id=doc[0],
            source=doc[1],
            page=int(page),  # type: ignore[call-overload]
            page_count=doc[2],
            text=str(text),
            native_text=str(native),
            ocr_text=str(ocr_text),
            notes=str(notes),
            title=doc[3],
            image_path=self.images.path(key) if key else None,
            thumb_path=self.images.thumb_path(key) if key else None,
            width=float(width),  # type: ignore[arg-type]
            height=float(height),  # type: ignore[arg-type]
            ocr_used=bool(ocr_used),
            image_coverage=float(coverage),  # type: ignore[arg-type]
            lang=str(lang),
            labels=tuple(int(n) for n in str(labels).split(",") if n),
        )
