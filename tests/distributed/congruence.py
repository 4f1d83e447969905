"""Two indexes hold the same thing: documents, pages, words, point ids, payloads and vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pagerag.ingest.catalog import Catalog


def catalog_rows(index: Path) -> list[tuple[Any, ...]]:
    """Every complete page with its document, image key and words (paths made index-relative)."""
    rows: list[tuple[Any, ...]] = []
    with Catalog.open(index) as catalog:
        assert catalog.pending() == []
        for doc in catalog.documents():
            for p in catalog.pages(doc.doc_id):
                key = p.image_path.stem if p.image_path else None
                rows.append(
                    (doc.doc_id, doc.source, doc.pages, doc.title, doc.kind, p.page, p.text, p.native_text,
                     p.ocr_text, p.notes, key, p.width, p.height, p.ocr_used, p.image_coverage, p.lang,
                     p.labels, tuple(catalog.words(doc.doc_id, p.page)))
                )  # fmt: skip
        images = catalog.images.keys()
    assert {r[10] for r in rows if r[10]} == images, "page images on disk = those the pages use"
    return rows


def points(index: Path) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """``point id -> (payload, vectors)`` of the embedded store (the index must be closed)."""
    import qdrant_edge as qe

    shard = qe.EdgeShard.load(str(index / "qdrant"))
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    try:
        offset: Any = None
        while True:
            records, offset = shard.scroll(
                qe.ScrollRequest(offset=offset, limit=1000, with_payload=True, with_vector=True)
            )
            for r in records:
                payload = dict(r.payload or {})
                payload.pop("indexed_at")
                for key in ("image", "image_path"):  # a file name, or a path in the index directory
                    if key in payload:
                        payload[key] = Path(payload[key]).name
                out[str(r.id)] = (payload, dict(r.vector or {}))
            if offset is None:
                break
    finally:
        shard.close()
    return out


def assert_same_index(a: Path, b: Path, *, atol: float = 1e-3) -> None:
    """Same catalog rows, same point ids and payloads, vectors equal within ``atol``."""
    assert catalog_rows(a) == catalog_rows(b)
    pa, pb = points(a), points(b)
    assert sorted(pa) == sorted(pb)
    for pid, (payload, vectors) in pa.items():
        other_payload, other_vectors = pb[pid]
        assert payload == other_payload, pid
        assert payload["state"] == "live"
        assert sorted(vectors) == sorted(other_vectors), pid
        for name, v in vectors.items():
            w = other_vectors[name]
            if hasattr(v, "indices"):  # sparse
                assert list(v.indices) == list(w.indices), (pid, name)
                assert np.allclose(v.values, w.values, atol=atol), (pid, name)
            else:
                assert np.allclose(
                    np.asarray(v, dtype=np.float32), np.asarray(w, dtype=np.float32), atol=atol
                ), (
                    pid,
                    name,
                )
