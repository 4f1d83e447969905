"""Pages without text: a text model's vector of an empty page is no evidence, an image model's is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from pagerag.ingest.types import DocumentInfo, Page
from pagerag.retriever.index import PageIndex
from pagerag.retriever.language import reads_text_only
from pagerag.retriever.store.base import text_chars
from pagerag.retriever.types import Embedding, SparseVector

from .conftest import OpenIndex  # noqa: TID251 (the test package, not the bare source folder)
from .fakes import HashEmbedder  # noqa: TID251 (the test package, not the bare source folder)

QUERY = "water usage per factory"


class BlankNearEveryQuery(HashEmbedder):
    """Embeds a page without text as if it were the query, as e5 and MiniLM place an empty passage
    near many queries (devset-xling: blank pages tied at the top of the dense list); no BM25 terms."""

    def __init__(self, models: dict[str, str] | None = None) -> None:
        super().__init__()
        if models is not None:
            self._spec = replace(self.spec, models={**self.spec.models, **models})

    def embed_pages(self, pages: Sequence[Page]) -> list[Embedding]:
        out = super().embed_pages(pages)
        blank = replace(self._embed(QUERY), sparse=SparseVector((), ()))
        return [blank if not p.text.strip() else e for p, e in zip(pages, out, strict=True)]


def _fill(index: PageIndex) -> None:
    texts = ["", "water usage per factory fell", "carbon emissions fell", ""]
    pages = [Page("doc", "report.pdf", i, len(texts), t, lang="eng") for i, t in enumerate(texts, 1)]
    index.write(DocumentInfo("doc", "report.pdf", len(texts)), pages)
    index.publish("doc")


@pytest.mark.parametrize("mode", ["dense", "multi", "hybrid", "fusion"])
def test_a_blank_page_never_outranks_a_page_with_text(open_index: OpenIndex, mode: str) -> None:
    index = open_index(embedder=BlankNearEveryQuery())
    _fill(index)
    hits = index.search(QUERY, k=4, mode=mode)  # type: ignore[arg-type]
    assert hits[0].page == 2
    assert {h.page for h in hits} <= {2, 3}  # text models do not rank blank pages at all


def test_an_image_model_still_sees_pages_without_text(open_index: OpenIndex) -> None:
    index = open_index(embedder=BlankNearEveryQuery({"dense": "jina-v4:x", "multi": "jina-v4:x"}))
    _fill(index)
    for mode in ("dense", "multi"):
        assert index.search(QUERY, k=4, mode=mode)[0].page in (1, 4)  # type: ignore[arg-type]
    assert {1, 4} <= {h.page for h in index.search(QUERY, k=4)}


def test_an_index_written_before_the_chars_field_ranks_every_page(tmp_path: Path) -> None:
    """Old indexes lack ``chars``: the condition matches no page there, and search is as it was."""
    import qdrant_edge as qe

    with PageIndex.open(tmp_path, embedder=BlankNearEveryQuery()) as index:
        _fill(index)
    shard = qe.EdgeShard.load(str(tmp_path / "qdrant"))
    shard.update(qe.UpdateOperation.delete_payload_by_filter(qe.Filter(), ["chars"]))
    shard.close()
    with PageIndex.open(tmp_path, embedder=BlankNearEveryQuery()) as index:
        assert index.search(QUERY, k=4, mode="dense")[0].page in (1, 4)


def test_text_chars_and_which_models_read_text() -> None:
    assert text_chars("") == text_chars(" \n|-. ") == 0
    assert text_chars("Figure 3") == 7
    assert reads_text_only("e5-small") and reads_text_only("minilm-tokens") and reads_text_only("st:x")
    assert not any(reads_text_only(m) for m in ("jina-v4:x", "colqwen2:x", "colqwen2.5:x", "colpali:x"))
