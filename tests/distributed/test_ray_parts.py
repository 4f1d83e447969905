"""The parts of the Ray path that need no cluster: render tasks, the embedding actor's body, set-up errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ray_runs import make_pdfs

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.errors import ConfigError, MissingDependency
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.progress import Progress
from pagerag.ingest.scan import hash_file
from pagerag.ingest.sink import NullSink
from pagerag.ingest.types import SourceFile
from pagerag.ingest.worker import DocJob, Prepared, prepare
from pagerag.pipelines.ray_ingest import RayOptions, RayProcessor, connected, ray_processor
from pagerag.pipelines.ray_workers import EmbedWorker, Rendered, render_task
from pagerag.retriever.embedders.registry import DEFAULT_MODELS
from pagerag.retriever.store.base import PENDING, Eq, Where, point_id

OPTIONS = IngestOptions(ocr=False, dpi=72)


def _job(tmp_path: Path) -> DocJob:
    path = make_pdfs(tmp_path / "docs", count=1, pages=3) / "part0.pdf"
    return DocJob(
        SourceFile(path, "part0.pdf", hash_file(path), path.stat().st_size), "pdf", tmp_path / "work"
    )


def _rendered(tmp_path: Path) -> Rendered:
    prepared = prepare(_job(tmp_path), OPTIONS).value
    assert isinstance(prepared, Prepared)
    return render_task(prepared, 1, 3, OPTIONS, str(tmp_path / "index" / "images"))


def test_a_render_task_sends_the_page_images_back_as_bytes(tmp_path: Path) -> None:
    rendered = _rendered(tmp_path)

    assert not rendered.error and [p.page for p in rendered.pages] == [1, 2, 3]
    assert not (tmp_path / "index").exists(), "nothing written where the driver keeps its images"
    keys = {key for key, _, _ in rendered.images}
    for page in rendered.pages:
        assert page.image_path is not None and page.image_path.parent.parent == tmp_path / "index" / "images"
        assert page.image_path.stem in keys
    assert all(data[:2] == b"\xff\xd8" and thumb[:2] == b"\xff\xd8" for _, data, thumb in rendered.images)


def test_a_render_task_reports_a_bad_range_as_a_reason(tmp_path: Path) -> None:
    prepared = prepare(_job(tmp_path), OPTIONS).value
    assert isinstance(prepared, Prepared)
    rendered = render_task(prepared, 4, 5, OPTIONS, str(tmp_path / "images"))
    assert rendered.error and not rendered.pages


def test_an_embedding_actor_with_a_qdrant_url_writes_the_points_pending_itself(tmp_path: Path) -> None:
    rendered = _rendered(tmp_path)
    worker = EmbedWorker(dict(DEFAULT_MODELS), None, images=False, qdrant=(":memory:", None, "pagerag"))
    plain = EmbedWorker(dict(DEFAULT_MODELS), None, images=False)

    assert worker.embed(rendered, Rendered(error="corrupt PDF")) == [None, "corrupt PDF"]
    assert worker.store is not None
    doc_id = rendered.pages[0].doc_id
    assert worker.store.count(Where((Eq("state", PENDING),))) == 3
    assert worker.store.published_doc_ids() == set()
    worker.store.publish(doc_id)
    assert worker.store.published_doc_ids() == {doc_id}
    rows = worker.store.backend.scroll(Where((Eq("doc_id", doc_id),)), ("page",))
    assert {point_id(doc_id, int(r["page"])) for r in rows} == {point_id(doc_id, n) for n in (1, 2, 3)}

    embeddings = plain.embed(rendered)[0]
    assert isinstance(embeddings, tuple) and len(embeddings) == 3


def test_ray_missing_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependency, match=r'pip install "pagerag\[ray\]"'), connected(None):
        pass


def test_actors_write_to_qdrant_only_when_the_index_is_there(tmp_path: Path) -> None:
    processor = RayProcessor(RayOptions(qdrant_url="http://127.0.0.1:6333"))
    with Catalog.open(tmp_path / "index") as catalog, pytest.raises(ConfigError, match="qdrant_url"):
        processor(
            [(_job(tmp_path), ())], catalog=catalog, sink=NullSink(), options=OPTIONS,
            progress=Progress(1, enabled=False),
        )  # fmt: skip


@pytest.mark.parametrize(
    ("given", "address"), [(True, None), ("", None), ("auto", "auto"), ("127.0.0.1:6379", "127.0.0.1:6379")]
)
def test_the_ray_option_names_the_cluster(given: bool | str, address: str | None) -> None:
    assert ray_processor(given).options.address == address
    options = RayOptions(address="auto", embed_actors=2)
    assert ray_processor(options).options is options
