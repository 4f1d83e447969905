"""Fixtures of the answer tests: hits, a tiny in-memory index, the fake OpenAI server."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from PIL import Image

from pagerag.retriever.types import Hit, SearchFilter

from .fake_openai import ServerState, serve

PAGES = {
    ("fjordlys_report.pdf", 1): "Fjordlys AS quarterly report Q4 2023. The company makes marine sensors.",
    ("fjordlys_report.pdf", 2): (
        "Revenue by quarter, 2023\nQ1 $0.8M\nQ2 $0.9M\nQ3 $1.1M\nQ4 $1.4M\nTotal 2023 revenue: $4.2M\n"
        "Figure 1: revenue by quarter."
    ),
    ("crane_memo.pdf", 1): (
        "Inspection memo. Harbour crane No. 7 lifted a test weight of 42 tonnes in its load test."
    ),
    ("kesselbrunn.pdf", 1): (
        "Das Wasserwerk Kesselbrunn förderte 2023 rund 3,7 Millionen Kubikmeter Trinkwasser."
    ),
}


def make_hit(source: str, page: int, text: str, score: float = 0.5, image: Path | None = None) -> Hit:
    return Hit(source=source, page=page, score=score, text=text, image_path=image, doc_id=f"id-{source}")


class TinyIndex:
    """Ranks pages by shared words with the query: enough to test the answer step's logic."""

    def __init__(self, pages: dict[tuple[str, int], str], images: dict[tuple[str, int], Path] | None = None):
        self.pages = pages
        self.images = images or {}
        self.queries: list[str] = []
        self.filters: list[SearchFilter | None] = []

    def __enter__(self) -> TinyIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def search_scored(
        self, query: str, *, k: int = 10, filter: SearchFilter | None = None
    ) -> tuple[list[Hit], float]:
        hits = self.search(query, k=k, filter=filter)
        return hits, hits[0].score if hits else 0.0

    def search(self, query: str, *, k: int = 10, filter: SearchFilter | None = None) -> list[Hit]:
        self.queries.append(query)
        self.filters.append(filter)
        words = set(re.findall(r"\w+", query.lower()))
        hits = []
        for (source, page), text in self.pages.items():
            if filter is not None and filter.sources and source not in filter.sources:
                continue
            overlap = len(words & set(re.findall(r"\w+", text.lower())))
            score = overlap / max(len(words), 1)
            hits.append(make_hit(source, page, text, score, self.images.get((source, page))))
        hits.sort(key=lambda h: -h.score)
        return hits[:k]


@pytest.fixture
def tiny_index(tmp_path: Path) -> TinyIndex:
    images = {}
    for i, key in enumerate(PAGES):
        path = tmp_path / f"page{i}.png"
        Image.new("RGB", (60, 80), (255, 255 - i * 40, 255)).save(path)
        images[key] = path
    return TinyIndex(dict(PAGES), images)


@pytest.fixture(scope="module")
def openai_server() -> Iterator[tuple[str, ServerState]]:
    with serve() as (url, state):
        yield url, state


def hits_of(pages: Sequence[tuple[str, int, str]]) -> list[Hit]:
    return [make_hit(s, p, t, 1.0 - i * 0.1) for i, (s, p, t) in enumerate(pages)]
