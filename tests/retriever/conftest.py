"""Fixtures: a tiny corpus, the hash embedder, and an index on each store backend."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pagerag.ingest.types import DocumentInfo, Page
from pagerag.retriever.index import PageIndex

from .fakes import HashEmbedder  # noqa: TID251 (the test package, not the bare source folder)

BACKENDS = ("edge", "local")

CORPUS: dict[str, tuple[str, list[str]]] = {
    # doc_id: (source, page texts)
    "doc-a": (
        "reports/annual_2023.pdf",
        [
            "annual report 2023 overview of the company",
            "revenue grew in europe and asia during 2023",
            "balance sheet liabilities and equity",
        ],
    ),
    "doc-b": (
        "reports/sustainability.pdf",
        ["carbon emissions fell by ten percent", "water usage across factories"],
    ),
    "doc-c": (
        "slides/kickoff.pptx",
        ["project kickoff agenda", "timeline milestones and owners", "budget approval process"],
    ),
}


def make_pages(
    doc_id: str, source: str, texts: list[str], **extra: object
) -> tuple[DocumentInfo, list[Page]]:
    pages = [
        Page(doc_id=doc_id, source=source, page=i, page_count=len(texts), text=t, title=source, **extra)  # type: ignore[arg-type]
        for i, t in enumerate(texts, 1)
    ]
    return DocumentInfo(doc_id=doc_id, source=source, pages=len(texts), title=source), pages


def fill(index: PageIndex, corpus: dict[str, tuple[str, list[str]]] = CORPUS) -> None:
    for doc_id, (source, texts) in corpus.items():
        doc, pages = make_pages(doc_id, source, texts, lang="de" if "slides" in source else "en")
        index.write(doc, pages)
        index.publish(doc_id)


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


OpenIndex = Callable[..., PageIndex]


@pytest.fixture(params=BACKENDS)
def open_index(request: pytest.FixtureRequest, tmp_path: Path, embedder: HashEmbedder) -> Iterator[OpenIndex]:
    """Opens a PageIndex in tmp_path on the edge backend or on qdrant-client local mode (on disk)."""
    opened: list[PageIndex] = []
    clients: list[object] = []

    def _open(**kwargs: object) -> PageIndex:
        kwargs.setdefault("embedder", embedder)
        if request.param == "local":
            from qdrant_client import QdrantClient

            for old in clients:  # one client per local-mode directory, like one process per edge dir
                old.close()  # type: ignore[attr-defined]
            client = QdrantClient(path=str(tmp_path / "local"))
            clients.append(client)
            kwargs["client"] = client
        index = PageIndex.open(tmp_path / "idx", **kwargs)  # type: ignore[arg-type]
        opened.append(index)
        return index

    _open.backend = request.param  # type: ignore[attr-defined]
    yield _open
    for index in opened:
        with contextlib.suppress(Exception):  # already closed by the test
            index.close()
    for c in clients:
        c.close()  # type: ignore[attr-defined]


@pytest.fixture
def index(open_index: OpenIndex) -> PageIndex:
    """A filled index to change (function scope)."""
    idx = open_index()
    fill(idx)
    return idx


@pytest.fixture(scope="module", params=BACKENDS)
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageIndex]:
    """A filled index shared by the read-only tests of a module (opening an index costs ~1 s)."""
    root = tmp_path_factory.mktemp(f"filled-{request.param}")
    if request.param == "local":
        from qdrant_client import QdrantClient

        idx = PageIndex.open(root, embedder=HashEmbedder(), client=QdrantClient(":memory:"))
    else:
        idx = PageIndex.open(root, embedder=HashEmbedder())
    fill(idx)
    yield idx
    idx.close()
