"""An index opens without loading its models, and every ingest run refills a store that lost pages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import pagerag.retriever.index as index_module
from pagerag.ingest.catalog import Catalog
from pagerag.ingest.errors import CollectionMismatch
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.retriever.index import PageIndex

from .fakes import HashEmbedder  # noqa: TID251


def _pdf(path: Path, texts: list[str]) -> None:
    import pymupdf

    doc = pymupdf.open()
    for text in texts:
        doc.new_page().insert_text((72, 100), text, fontsize=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts model loads: the index's default embedder is the hash embedder."""
    calls: list[int] = []

    def fake(models: object, device: object = None) -> HashEmbedder:
        calls.append(1)
        return HashEmbedder()

    monkeypatch.setattr(index_module, "_default_embedder", fake)
    return calls


def _ingest(docs: Path, index_dir: Path) -> dict[str, float]:
    options = IngestOptions(workers=0, ocr=False, dpi=36)
    with Catalog.open(index_dir) as catalog, PageIndex.open(index_dir) as sink:
        report = ingest_paths([docs], catalog=catalog, sink=sink, options=options, progress=False)
    return {"indexed": report.indexed, "pages": report.pages_indexed, **report.extra}


def test_opening_an_index_loads_no_models_until_it_embeds(tmp_path: Path, loads: list[int]) -> None:
    _pdf(tmp_path / "docs" / "a.pdf", ["harbour ferry timetable", "museum opening hours"])
    _ingest(tmp_path / "docs", tmp_path / "idx")
    loads.clear()
    with PageIndex.open(tmp_path / "idx") as index:
        assert [d.source for d in index.documents()] == ["a.pdf"]
        assert len(index.published_doc_ids()) == 1
        assert loads == []
        assert index.search("ferry timetable", k=1)[0].page == 1
        assert loads == [1]


def test_an_unchanged_run_refills_an_emptied_store_without_other_work(
    tmp_path: Path, loads: list[int]
) -> None:
    docs, idx = tmp_path / "docs", tmp_path / "idx"
    _pdf(docs / "a.pdf", ["harbour ferry timetable", "museum opening hours"])
    assert _ingest(docs, idx)["indexed"] == 1
    loads.clear()
    assert _ingest(docs, idx)["recovered"] == 0 and loads == []  # nothing to do: no model loaded
    shutil.rmtree(idx / "qdrant")  # the vector store is lost; the page table is not
    result = _ingest(docs, idx)
    assert result["indexed"] == 0 and result["recovered"] == 1
    with PageIndex.open(idx) as index:
        assert [(h.source, h.page) for h in index.search("museum opening hours", k=1)] == [("a.pdf", 2)]


def test_models_that_changed_their_vectors_are_caught_at_the_first_embedding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PageIndex.open(tmp_path, embedder=HashEmbedder()):
        pass
    monkeypatch.setattr(
        index_module, "_default_embedder", lambda models, device=None: HashEmbedder(dense_dim=16)
    )
    with PageIndex.open(tmp_path) as index, pytest.raises(CollectionMismatch, match="other vectors"):
        index.search("anything")
