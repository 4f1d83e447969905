"""Fixtures of the ingest tests: an index directory, its catalog, fast options, a PDF factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ingest_docs import LOREM, write_pdf

from pagerag.ingest.catalog import Catalog
from pagerag.ingest.options import IngestOptions


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def catalog(index_dir: Path) -> Iterator[Catalog]:
    with Catalog.open(index_dir) as cat:
        yield cat


@pytest.fixture
def fast() -> IngestOptions:
    """In-process, English OCR only, small images: quick and deterministic."""
    return IngestOptions(workers=0, ocr_langs=("eng",), dpi=72)


@pytest.fixture
def pdf_factory(tmp_path: Path) -> Callable[..., Path]:
    """``make(name, pages=2, seed=0, folder=None)``: a text PDF under ``tmp_path/docs``."""

    def make(name: str, pages: int = 2, *, seed: int = 0, folder: Path | None = None) -> Path:
        target = (folder or tmp_path / "docs") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_pdf(target, [LOREM.format(n=seed * 100 + i) for i in range(pages)])

    return make
