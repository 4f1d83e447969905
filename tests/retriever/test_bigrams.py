"""BM25 with neighbouring term pairs through the real Qdrant engines (edge and qdrant-client)."""

from __future__ import annotations

from collections.abc import Sequence

from pagerag.ingest.types import DocumentInfo, Page
from pagerag.retriever.embedders.bm25 import Bm25BigramEncoder, Bm25Encoder
from pagerag.retriever.types import Embedding

from .conftest import OpenIndex  # noqa: TID251 (the test package, not the bare source folder)
from .fakes import HashEmbedder  # noqa: TID251

PAGES = [
    "Total cost fell; revenue rose.",  # both words, apart, in a short page
    "Total revenue of the group rose in the south and in the north, while the cost fell.",  # the pair
    "Staff numbers, offices and the travel budget of the year.",
]


class RealSparse(HashEmbedder):
    """Hashed dense and multi vectors (logic only), with a real BM25 encoder as the sparse part."""

    def __init__(self, sparse: Bm25Encoder) -> None:
        super().__init__(name=sparse.name)
        self.sparse = sparse

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        found = super().embed_pages(pages)
        vectors = self.sparse.embed_passages([p.text for p in pages])
        return [_with(e, s) for e, s in zip(found, vectors, strict=True)]

    def embed_queries(self, texts: Sequence[str]) -> list[Embedding]:
        found = super().embed_queries(texts)
        return [_with(e, s) for e, s in zip(found, self.sparse.embed_queries(texts), strict=True)]


def _with(emb: Embedding, sparse: object) -> Embedding:
    return Embedding(dense=emb.dense, multi=emb.multi, sparse=sparse, pooled=emb.pooled)  # type: ignore[arg-type]


def _ranked(open_index: OpenIndex, encoder: Bm25Encoder) -> list[int]:
    index = open_index(embedder=RealSparse(encoder))
    doc = DocumentInfo("d", "report.pdf", len(PAGES))
    index.write(doc, [Page("d", "report.pdf", i, len(PAGES), t) for i, t in enumerate(PAGES, 1)])
    index.publish("d")
    ranked = [h.page for h in index.search("total revenue", k=3, mode="sparse")]
    index.close()
    return ranked


def test_the_page_with_the_query_words_together_ranks_first(open_index: OpenIndex) -> None:
    assert _ranked(open_index, Bm25BigramEncoder()) == [2, 1]


def test_without_pairs_the_shorter_page_wins(open_index: OpenIndex) -> None:
    assert _ranked(open_index, Bm25Encoder()) == [1, 2]  # both match both words; only length tells them apart
