"""Pages with equal scores come back in one fixed order (source, page), search after search."""

from __future__ import annotations

from pagerag.ingest.types import DocumentInfo, Page

from .conftest import OpenIndex  # noqa: TID251


def test_equal_scores_are_ordered_by_source_then_page(open_index: OpenIndex) -> None:
    index = open_index()
    for doc_id, source in (("d2", "b/copy.pdf"), ("d1", "a/copy.pdf"), ("d3", "c/copy.pdf")):
        pages = [
            Page(doc_id=doc_id, source=source, page=p, page_count=2, text="identical text") for p in (1, 2)
        ]
        index.write(DocumentInfo(doc_id, source, 2), pages)
        index.publish(doc_id)
    expected = [(s, p) for s in ("a/copy.pdf", "b/copy.pdf", "c/copy.pdf") for p in (1, 2)]
    for mode in ("hybrid", "dense", "sparse", "multi"):
        for _ in range(3):
            hits = index.search("identical text", k=6, mode=mode)
            assert [(h.source, h.page) for h in hits] == expected, mode
    # rank fusion turns the order of ties inside each list into different scores: not ties any more,
    # but the same every time
    runs = {
        tuple((h.source, h.page) for h in index.search("identical text", k=6, mode="fusion"))
        for _ in range(5)
    }
    assert len(runs) == 1
