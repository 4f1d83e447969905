"""PageIndex: index.json and CollectionMismatch, the single-writer lock, crash recovery."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pagerag.ingest.errors import CollectionMismatch, ConfigError, IndexClosed, IndexLocked
from pagerag.retriever.index import PageIndex
from pagerag.retriever.store import Store
from pagerag.retriever.store.base import PENDING, Eq, Where

from .conftest import fill, make_pages  # noqa: TID251
from .fakes import DenseOnlyEmbedder, HashEmbedder  # noqa: TID251

TESTS = Path(__file__).resolve().parents[1]


def _child(code: str) -> subprocess.Popen[str]:
    """A second real process running ``code`` with the test fakes importable."""
    prelude = f"import sys; sys.path.insert(0, {str(TESTS)!r})\n"
    return subprocess.Popen(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_index_json_records_models_and_spec(tmp_path: Path) -> None:
    with PageIndex.open(tmp_path, embedder=HashEmbedder()):
        pass
    meta = json.loads((tmp_path / "index.json").read_text())
    assert meta["models"] == {"dense": "hash-dense", "multi": "hash-multi", "sparse": "hash-sparse"}
    assert meta["spec"]["dense"]["dim"] == 32 and meta["backend"] == "edge"


def test_other_models_raise_collection_mismatch(tmp_path: Path) -> None:
    with PageIndex.open(tmp_path, embedder=HashEmbedder()) as index:
        fill(index)
    with pytest.raises(CollectionMismatch, match="re-index"):
        PageIndex.open(tmp_path, embedder=HashEmbedder(dense_dim=16))
    with pytest.raises(CollectionMismatch, match=r"built with models .*hash-dense.*pagerag ingest"):
        PageIndex.open(tmp_path, models={"dense": "some-other-model"})
    # a failed open releases the lock: the right embedder opens it again
    with PageIndex.open(tmp_path, embedder=HashEmbedder()) as index:
        assert index.published_doc_ids() == {"doc-a", "doc-b", "doc-c"}


def test_an_index_on_a_server_needs_its_url(tmp_path: Path, embedder: HashEmbedder) -> None:
    from qdrant_client import QdrantClient

    with PageIndex.open(tmp_path, embedder=embedder, client=QdrantClient(":memory:"), collection="c1"):
        pass
    assert json.loads((tmp_path / "index.json").read_text())["backend"] == "qdrant"
    with pytest.raises(ConfigError, match=r"collection 'c1'.*--qdrant-url"):
        PageIndex.open(tmp_path, embedder=embedder)
    assert not (tmp_path / "qdrant").exists()


def test_server_collection_with_other_vectors_raises(embedder: HashEmbedder) -> None:
    from qdrant_client import QdrantClient

    client = QdrantClient(":memory:")
    Store(client=client).ensure(embedder.spec)
    with pytest.raises(CollectionMismatch, match="dense 16-d"):
        Store(client=client).ensure(HashEmbedder(dense_dim=16).spec)
    Store(client=client, collection="other").ensure(HashEmbedder(dense_dim=16).spec)  # another name is fine


def test_second_process_gets_index_locked_naming_the_holder(tmp_path: Path) -> None:
    child = _child(
        f"""
        from pathlib import Path
        from pagerag.retriever.index import PageIndex
        from retriever.fakes import HashEmbedder
        index = PageIndex.open(Path({str(tmp_path)!r}), embedder=HashEmbedder())
        print("ready", flush=True)
        sys.stdin.read()  # hold the index until the parent closes stdin
        index.close()
        """
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready", child.stderr
        with pytest.raises(IndexLocked, match=rf"pid {child.pid}\b.*pagerag serve"):
            PageIndex.open(tmp_path, embedder=HashEmbedder())
    finally:
        child.kill()  # no clean close: the kernel drops the flock with the process
        child.wait()
    with PageIndex.open(tmp_path, embedder=HashEmbedder()) as index:
        assert index.published_doc_ids() == set()


def test_handles_in_one_process_share_one_engine(tmp_path: Path) -> None:
    first = PageIndex.open(tmp_path, embedder=HashEmbedder())
    second = PageIndex.open(tmp_path, embedder=HashEmbedder())
    assert first.store is second.store
    second.write(*make_pages("d1", "a.pdf", ["first page", "second page"]))
    second.publish("d1")
    first.close()
    with pytest.raises(IndexClosed, match="closed"):
        first.search("anything")
    first.close()  # idempotent
    assert second.published_doc_ids() == {"d1"}  # the engine stays open for the other handle
    second.close()
    with PageIndex.open(tmp_path, embedder=HashEmbedder()) as again:  # reopened afresh
        assert again.published_doc_ids() == {"d1"}


def test_crash_keeps_published_and_discards_pending(tmp_path: Path) -> None:
    child = _child(
        f"""
        import os
        from pathlib import Path
        from pagerag.retriever.index import PageIndex
        from retriever.conftest import make_pages
        from retriever.fakes import HashEmbedder
        index = PageIndex.open(Path({str(tmp_path)!r}), embedder=HashEmbedder())
        index.write(*make_pages("done", "done.pdf", ["finished document page"]))
        index.publish("done")
        index.write(*make_pages("half", "half.pdf", ["interrupted document page", "second"]))
        os._exit(9)  # crash: no publish, no flush, no close
        """
    )
    _, err = child.communicate(timeout=120)
    assert child.returncode == 9, err
    with PageIndex.open(tmp_path, embedder=HashEmbedder()) as index:
        assert index.published_doc_ids() == {"done"}
        assert index.store.count(Where()) == 1  # the pending pages are gone
        assert index.store.count(Where((Eq("state", PENDING),))) == 0
        assert [h.source for h in index.search("document page")] == ["done.pdf"]
        # ingestion re-sends the interrupted document; it becomes visible on publish
        index.write(*make_pages("half", "half.pdf", ["interrupted document page", "second"]))
        index.publish("half")
        assert index.published_doc_ids() == {"done", "half"}


def test_dense_only_models(tmp_path: Path) -> None:
    with PageIndex.open(tmp_path, embedder=DenseOnlyEmbedder()) as index:
        fill(index)
        assert index.search("carbon emissions", k=1)[0].doc_id == "doc-b"  # hybrid degrades to fusion
        assert index.search("carbon emissions", k=1, mode="dense")[0].doc_id == "doc-b"
        with pytest.raises(ConfigError, match="multi-vector"):
            index.search("x", mode="multi")
        with pytest.raises(ConfigError, match="sparse model"):
            index.search("x", mode="sparse")


def test_write_rejects_pages_of_another_document(tmp_path: Path) -> None:
    doc, _ = make_pages("d1", "a.pdf", ["x"])
    _, other = make_pages("d2", "b.pdf", ["y"])
    with (
        PageIndex.open(tmp_path, embedder=HashEmbedder()) as index,
        pytest.raises(ConfigError, match=r"a\.pdf: pages of other documents"),
    ):
        index.write(doc, other)
