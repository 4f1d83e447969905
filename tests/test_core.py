"""`PageRAG` in one process: shared engine, many handles and retrievers, threads, pages, answers."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest

from pagerag import PageRAG
from pagerag.ingest.errors import ConfigError, IndexClosed
from pagerag.pipelines import ask, index_folder
from pagerag.pipelines.core import NotFound
from pagerag.retriever.langchain import PageRetriever

QUESTION = "What was the total revenue in 2023 according to the chart in the quarterly report?"
REPORT = "fjordlys_quarterly_report_q4_2023.pdf"


@pytest.fixture
def index(sample_index: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(sample_index, copy)
    return copy


@pytest.fixture
def rag(index: Path) -> Iterator[PageRAG]:
    with PageRAG.open(index) as opened:
        yield opened


def _pdf(path: Path, text: str) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text)
    doc.save(path)
    return path


def test_many_handles_and_retrievers_share_one_index(index: Path) -> None:
    first, second = PageRAG.open(index), PageRAG.open(index)
    assert first.index.store is second.index.store  # one engine, one copy of the models
    narrow = PageRetriever.from_index(index, k=1)
    wide = second.as_retriever(k=4, mode="hybrid")
    assert [len(narrow.invoke("total revenue")), len(wide.invoke("total revenue"))] == [1, 4]
    from langchain_classic.retrievers import EnsembleRetriever

    both = EnsembleRetriever(retrievers=[narrow, wide], weights=[0.5, 0.5]).invoke("total revenue 2023")
    assert both[0].metadata["source"] == REPORT
    first.close()
    assert len(wide.invoke("revenue")) == 4  # other handles go on
    second.close()
    with pytest.raises(IndexClosed, match="closed; open the index again"):
        wide.invoke("revenue")
    assert narrow.invoke("revenue")  # its own handle is still open
    narrow.index.close()


def test_threads_search_at_once_and_see_what_one_alone_sees(rag: PageRAG) -> None:
    queries = ["total revenue 2023", "crane load test", "Trinkwasser Kesselbrunn", "production flow"]
    alone = {q: [(h.source, h.page) for h in rag.search(q, k=3)] for q in queries}
    seen: dict[str, list[list[tuple[str, int]]]] = {q: [] for q in queries}
    errors: list[BaseException] = []

    def work(q: str) -> None:
        try:
            for _ in range(3):
                seen[q].append([(h.source, h.page) for h in rag.search(q, k=3)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(q,)) for q in queries for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(run == alone[q] for q in queries for run in seen[q])


def test_ingest_while_searching_publishes_whole_documents(rag: PageRAG, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        _pdf(docs / f"fleet{i}.pdf", f"Fleet report {i}: vessel {i} logged {100 + i} nautical miles.")
    done = threading.Event()
    results: list[int] = []

    def search() -> None:
        while not done.is_set():
            results.append(len(rag.search("vessel nautical miles", k=10)))

    reader = threading.Thread(target=search)
    reader.start()
    report = rag.ingest(docs, options=None)
    done.set()
    reader.join()
    assert report.indexed == 3 and results
    assert {h.source for h in rag.search("vessel nautical miles", k=3)} == {
        "fleet0.pdf",
        "fleet1.pdf",
        "fleet2.pdf",
    }
    assert rag.remove("fleet1.pdf") and "fleet1.pdf" not in {d.source for d in rag.documents()}
    with pytest.raises(ConfigError, match="not in the index"):
        rag.remove("fleet1.pdf")


def test_pages_and_answers(rag: PageRAG) -> None:
    doc = next(d for d in rag.documents() if d.source == REPORT)
    page = rag.page(doc.doc_id, 2)
    assert page.source == REPORT and "4.2" in page.text and page.image_path and page.image_path.exists()
    assert page.thumbnail_path is not None and page.thumbnail_path.exists()
    with pytest.raises(NotFound, match="pages 1-3, not 4"):
        rag.page(doc.doc_id, 4)
    with pytest.raises(NotFound):
        rag.page("0" * 64, 1)
    answer = rag.ask(QUESTION)
    assert "4.2" in answer.text and (answer.citations[0].source, answer.citations[0].page) == (REPORT, 2)
    stream = rag.ask(QUESTION, stream=True)
    assert "".join(stream) == stream.answer.text == answer.text
    follow = rag.ask("And in 2022?", history=[(QUESTION, answer.text)])
    assert follow.search_query != "And in 2022?"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": "", "k": 3}, "query is empty"),
        ({"query": "revenue", "k": 0}, "k must be between 1 and 100"),
        ({"query": "revenue", "k": 101}, "k must be between"),
        ({"query": "revenue", "mode": "psychic"}, "unknown search mode"),
        ({"query": "revenue", "filters": {"colour": "red"}}, "unknown filter field 'colour'"),
    ],
)
def test_bad_searches_say_why(rag: PageRAG, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=message):
        rag.search(**kwargs)


def test_the_two_calls_and_a_closed_handle(index: Path, tmp_path: Path) -> None:
    _pdf(tmp_path / "otter.pdf", "Otter survey: 57 otters were counted along the Tay in spring.")
    assert index_folder(tmp_path / "otter.pdf", index=index).indexed == 1
    assert "57" in ask("How many otters were counted along the Tay?", index=index).text
    rag = PageRAG.open(index)
    rag.close()
    rag.close()
    with pytest.raises(IndexClosed):
        rag.search("otters")
    assert "closed" in repr(rag)


def test_a_moved_index_keeps_working(index: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "moved-index"
    moved.parent.mkdir()
    shutil.move(index, moved)
    with PageRAG.open(moved) as rag:
        hits = rag.search("total revenue 2023", k=3)
        answer = rag.ask(QUESTION)
        page = rag.page(hits[0].doc_id, hits[0].page)
    for path in [h.image_path for h in hits] + [answer.citations[0].image_path, page.image_path]:
        assert path is not None and path.exists() and moved in path.parents


def test_hits_of_an_index_written_with_image_paths_find_them_after_a_move(tmp_path: Path) -> None:
    from pagerag.retriever.search import to_hit
    from pagerag.retriever.store.base import Scored

    images = tmp_path / "new" / "images"
    (images / "ab").mkdir(parents=True)
    (images / "ab" / "abcd.jpg").write_bytes(b"jpeg")
    old = {"source": "a.pdf", "page": 1, "image_path": "/gone/index/images/ab/abcd.jpg"}
    assert to_hit(Scored("x", 1.0, old), images).image_path == images / "ab" / "abcd.jpg"
    assert to_hit(
        Scored("x", 1.0, {"source": "a.pdf", "page": 1, "image": "abcd.jpg"}), images
    ).image_path == (images / "ab" / "abcd.jpg")


def test_two_handles_ingesting_at_once_take_turns(index: Path, tmp_path: Path) -> None:
    first, second = PageRAG.open(index), PageRAG.open(index)
    docs = [_pdf(tmp_path / f"note{i}.pdf", f"Note {i}: the heron count was {30 + i}.") for i in range(2)]
    reports = []

    def ingest(rag: PageRAG, path: Path) -> None:
        reports.append(rag.ingest(path))

    threads = [threading.Thread(target=ingest, args=pair) for pair in zip((first, second), docs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.indexed for r in reports) == [1, 1]
    assert {"note0.pdf", "note1.pdf"} <= {d.source for d in first.documents()}
    first.close()
    second.close()


def test_an_index_built_without_a_multi_model_reopens(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _pdf(docs / "ferry.pdf", "The harbour ferry leaves at 07:40 every weekday.")
    with PageRAG.open(tmp_path / "idx", models={"multi": "none"}) as rag:
        rag.ingest(docs)
        assert rag.models == {"dense": "e5-small", "sparse": "bm25-bigrams"}
    with PageRAG.open(tmp_path / "idx") as again:  # was: "other vectors" (the default multi model filled in)
        assert again.search("harbour ferry")[0].source == "ferry.pdf"
    with PageRAG.open(tmp_path / "idx", models={"multi": "none"}) as same:
        assert same.search("ferry weekday")[0].source == "ferry.pdf"


def test_an_index_built_with_unigram_bm25_reopens_with_it_and_keeps_refusing_unrelated_questions(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _pdf(docs / "ferry.pdf", "The harbour ferry leaves at 07:40 every weekday from pier 3.")
    with PageRAG.open(tmp_path / "idx", models={"sparse": "bm25"}) as rag:  # the default before 2026-12-06
        rag.ingest(docs)
    with PageRAG.open(tmp_path / "idx") as again:
        assert again.models["sparse"] == "bm25"
        assert again.search("harbour ferry")[0].source == "ferry.pdf"
        # The answer step's relevance floor is calibrated on the multi-vector model, which this index shares
        # with the defaults: a question about something else is still refused without being asked to.
        refused = again.ask("What is the capital of Mongolia?", llm="none")
        assert not refused.found and "generate" not in refused.timings  # refused before any model is asked
        assert again.ask("When does the harbour ferry leave?", llm="none").citations
