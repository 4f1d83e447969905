"""Ingestion on a local Ray (``ray.init(num_cpus=2)``): the local path's result and its guarantees."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import pytest
from congruence import assert_same_index, catalog_rows
from ray_runs import ingest, make_pdfs, reasons, write_corrupt

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.options import IngestOptions
from pagerag.ingest.pipeline import ingest_paths
from pagerag.ingest.progress import IngestProgress
from pagerag.ingest.sink import NullSink
from pagerag.pipelines.core import PageRAG
from pagerag.pipelines.ray_ingest import RayOptions, RayProcessor
from pagerag.pipelines.ray_workers import ACTOR_PREFIX

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_ray")]

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "sample_docs"


def test_sample_docs_on_ray_give_the_local_index_and_a_rerun_changes_nothing(
    sample_index: Path, tmp_path: Path
) -> None:
    seen: list[IngestProgress] = []
    report = ingest(tmp_path / "index", SAMPLE_DOCS, ray=RayOptions(), progress=seen.append)

    assert (report.indexed, report.pages_indexed, report.failed) == (4, 9, ())
    assert_same_index(sample_index, tmp_path / "index")
    last = seen[-1]
    assert (last.files_done, last.files_total, last.pages) == (4, 4, 9)
    assert last.pages_per_second > 0
    assert {p.current for p in seen} >= {
        "fjordlys_quarterly_report_q4_2023.pdf",
        "seasense_production_flow.pptx",
    }

    again = ingest(tmp_path / "index", SAMPLE_DOCS, ray=RayOptions())
    assert (again.indexed, again.unchanged, again.pages) == (0, 4, 9)


def test_a_corrupt_file_gets_its_reason_and_the_rest_goes_on(tmp_path: Path) -> None:
    docs = make_pdfs(tmp_path / "docs", count=2, pages=3)
    write_corrupt(docs / "broken.pdf")
    (docs / "empty.pdf").write_bytes(b"")

    local = ingest(tmp_path / "local", docs)
    on_ray = ingest(tmp_path / "ray", docs, ray=RayOptions())

    assert reasons(on_ray) == reasons(local)
    assert set(reasons(on_ray)) == {"broken.pdf", "empty.pdf"}
    assert (on_ray.indexed, on_ray.pages) == (2, 6)
    assert_same_index(tmp_path / "local", tmp_path / "ray")


def test_an_embedding_actor_killed_mid_run_is_replaced_and_the_run_completes(tmp_path: Path) -> None:
    import ray

    docs = make_pdfs(tmp_path / "docs", count=5, pages=6)
    options = IngestOptions(pages_per_task=2, ocr=False)
    killed: list[str] = []
    later: list[set[str]] = []

    def kill_once(state: IngestProgress) -> None:
        names = {n for n in ray.util.list_named_actors() if n.startswith(ACTOR_PREFIX)}
        if not killed and state.pages >= 4:
            killed.extend(sorted(names))
            for name in names:
                ray.kill(ray.get_actor(name))
        elif killed:
            later.append(names)

    report = ingest(tmp_path / "ray", docs, ray=RayOptions(), options=options, progress=kill_once)

    assert killed and later and later[-1] - set(killed), "a fresh actor took the killed one's place"
    assert (report.indexed, report.pages_indexed, report.failed) == (5, 30, ())
    again = ingest(tmp_path / "ray", docs, ray=RayOptions(), options=options)
    assert (again.indexed, again.unchanged, again.failed) == (0, 5, ())
    ingest(tmp_path / "local", docs, options=options)
    assert_same_index(tmp_path / "local", tmp_path / "ray")


def test_a_changed_file_replaces_its_old_pages_as_on_the_local_path(tmp_path: Path) -> None:
    docs = make_pdfs(tmp_path / "docs", count=2, pages=2)
    ingest(tmp_path / "ray", docs, ray=RayOptions())
    shutil.copytree(tmp_path / "ray", tmp_path / "local")
    make_pdfs(tmp_path / "new", count=1, pages=3)
    shutil.copy(tmp_path / "new" / "part0.pdf", docs / "part0.pdf")

    on_ray = ingest(tmp_path / "ray", docs, ray=RayOptions())
    local = ingest(tmp_path / "local", docs)

    assert (
        (on_ray.indexed, on_ray.unchanged, on_ray.pages)
        == (local.indexed, local.unchanged, local.pages)
        == (1, 1, 5)
    )
    assert on_ray.extra["replaced"] == 1.0
    assert_same_index(tmp_path / "local", tmp_path / "ray")


def test_the_page_table_alone_is_filled_on_ray_without_embedding(tmp_path: Path) -> None:
    reports = {}
    for name, processor in (("local", None), ("ray", RayProcessor())):
        with Catalog.open(tmp_path / name) as catalog:
            kwargs = {"processor": processor} if processor else {}
            reports[name] = ingest_paths(
                [SAMPLE_DOCS],
                catalog=catalog,
                sink=NullSink(),
                options=IngestOptions(),
                progress=False,
                **kwargs,
            )
    assert reports["ray"].pages_indexed == reports["local"].pages_indexed == 9
    assert catalog_rows(tmp_path / "ray") == catalog_rows(tmp_path / "local")


def test_a_visual_model_reads_the_page_images_shipped_to_its_actor(tmp_path: Path) -> None:
    """Page images travel as bytes; an actor of an image model gets them, and the vectors match."""
    checkpoints = _tiny_checkpoints()
    colpali = checkpoints.build_colpali(tmp_path / "colpali")
    models = {"dense": f"colpali:{colpali}", "multi": f"colpali:{colpali}", "sparse": "bm25"}
    docs = make_pdfs(tmp_path / "docs", count=2, pages=3)
    options = IngestOptions(ocr=False, dpi=72)

    for name, ray in (("local", None), ("ray", RayOptions())):
        PageRAG.open(tmp_path / name, models=models, device="cpu").close()  # a new index with those models
        report = ingest(tmp_path / name, docs, ray=ray, options=options)
        assert (report.indexed, report.failed) == (2, ()), (name, report.failed)

    assert_same_index(tmp_path / "local", tmp_path / "ray")


def _tiny_checkpoints() -> Any:
    pytest.importorskip("transformers")
    path = Path(__file__).resolve().parents[1] / "embedders" / "tiny_checkpoints.py"
    spec = importlib.util.spec_from_file_location("tiny_checkpoints", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
