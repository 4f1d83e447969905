"""Evaluation end to end over generated PDFs: the real ingest and Qdrant edge engine.

The library-level tests use the hash embedder of the retriever tests (fast, deterministic);
the command test runs ``pagerag eval`` itself with the packaged default models (~15 s).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from retriever.fakes import HashEmbedder  # noqa: TID251 (the test package tests/retriever)

from pagerag.ingest.errors import ConfigError
from pagerag.pipelines.cli import main
from pagerag.pipelines.core import PageRAG
from pagerag.pipelines.evaluation.queries import load_queries
from pagerag.pipelines.evaluation.runfile import save_run
from pagerag.pipelines.evaluation.runner import evaluate
from pagerag.pipelines.evaluation.summary import compare, summarise
from pagerag.pipelines.llm import build_llm
from pagerag.retriever.index import PageIndex

PAGES = {
    "solar.pdf": [
        "Photovoltaic solar panels convert sunlight into electricity with silicon cells.",
        "Rooftop solar installation costs in Germany fell sharply between 2010 and 2020.",
    ],
    "ocean.pdf": [
        "Coral reef bleaching happens when warm ocean water drives algae out of the coral.",
        "Fishing quotas for cod in the North Atlantic are set every year by the council.",
    ],
    "rail/trains.pdf": [
        "The Shinkansen high speed railway connects Tokyo and Osaka in under three hours.",
    ],
}
QUERIES = [
    {
        "id": "s1",
        "query": "photovoltaic silicon cells electricity",
        "doc": "solar.pdf",
        "pages": [1],
        "answer": "silicon cells",
    },
    {"id": "s2", "query": "rooftop solar costs Germany", "doc": "solar.pdf", "pages": [2], "lang": "en"},
    {"id": "o1", "query": "why does coral bleach", "doc": "ocean.pdf", "pages": [1], "modality": "x"},
    {"id": "o2", "query": "cod fishing quotas North Atlantic", "doc": "ocean.pdf", "pages": [2, 1]},
    {
        "id": "t1",
        "query": "Shinkansen Tokyo Osaka time",
        "doc": "rail/trains.pdf",
        "pages": [1],
        "answer": "3 hours",
    },
]


def _corpus(root: Path) -> tuple[Path, Path]:
    import pymupdf

    docs = root / "docs"
    for name, texts in PAGES.items():
        path = docs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pdf = pymupdf.open()
        for text in texts:
            page = pdf.new_page()
            page.insert_textbox(pymupdf.Rect(72, 72, 520, 400), text, fontsize=14)
        pdf.save(path)
        pdf.close()
    lines = [json.dumps(q) for q in QUERIES]
    lines.insert(2, "{broken json")  # line 3
    lines.append(json.dumps({"id": "x1", "query": "q", "doc": "missing.pdf", "pages": [1]}))  # line 7
    lines.append(json.dumps({"id": "x2", "query": "q", "doc": "solar.pdf", "pages": [9]}))  # line 8
    queries = root / "queries.jsonl"
    queries.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return docs, queries


def _hits(run_file: Path) -> list[list[tuple[str, int]]]:
    data = json.loads(run_file.read_text())
    return [[(h["source"], h["page"]) for h in q["hits"]] for q in data["queries"]]


def test_evaluate_ingests_searches_scopes_and_reproduces(tmp_path: Path) -> None:
    docs, queries = _corpus(tmp_path)
    index_dir = tmp_path / "index"
    problems: list[str] = []
    with PageRAG(PageIndex.open(index_dir, embedder=HashEmbedder())) as rag:
        ev = evaluate(
            load_queries(queries),
            docs,
            rag=rag,
            modes=["sparse", "dense", "hybrid"],
            llm=build_llm("extractive"),
            on_problem=lambda p: problems.append(str(p)),
        )
        # Same index again in doc scope: nothing re-ingested, every hit inside the query's document.
        ev_doc = evaluate(load_queries(queries), docs, rag=rag, modes=["sparse"], scope="doc")
        again = evaluate(load_queries(queries), docs, rag=rag, modes=["hybrid"])
        (docs / "new.pdf").write_bytes((docs / "solar.pdf").read_bytes())
        as_is = evaluate(load_queries(queries), docs, rag=rag, modes=["sparse"], ingest=False)
    assert [(p.line, p.query_id) for p in ev.query_set.problems] == [(3, ""), (7, "x1"), (8, "x2")]
    assert problems[2].endswith("queries.jsonl:8 (x2): page 9 not in 'solar.pdf' (2 pages)")
    assert "unknown document 'missing.pdf'" in problems[1]
    assert [r.mode for r in ev.runs] == ["sparse", "dense", "hybrid"]
    assert ev.info["ingest"]["pages_indexed"] == 5 and ev.info["index_size"]["pages"] == 5
    assert ev.info["models"] == {"dense": "hash-dense", "multi": "hash-multi", "sparse": "hash-sparse"}
    sparse = summarise(ev.runs[0])
    assert sparse.n == 5 and sparse.errors == 0
    # The hash embedder's sparse vectors are word counts: each query's words pick its page first.
    assert sparse.metrics["mrr@10"] == 1.0
    assert {h.source for item in ev.runs[0].queries for h in item.hits} <= set(PAGES)
    assert ev_doc.info["ingest"]["pages_indexed"] == 0
    for item in ev_doc.runs[0].queries:
        assert {h.source for h in item.hits} == {item.query.doc}
    # Answers (extractive: the best source sentences, cited) go with the hybrid run.
    assert all(item.answer is None for item in ev.runs[0].queries)
    answered = {item.query.id: item.answer for item in ev.runs[2].queries if item.answer}
    assert set(answered) == {"s1", "t1"}
    assert ("rail/trains.pdf", 1) in answered["t1"].cited and "Shinkansen" in answered["t1"].text
    scores = summarise(ev.runs[2]).answers
    assert scores is not None and scores.n == 2 and scores.cited_rate == 1.0
    assert 0.0 < scores.citation_precision <= 1.0
    # --no-ingest: the index as it is (new.pdf not taken in), same page counts, no ingest costs.
    assert as_is.info["ingest"] == {} and as_is.info["index_size"]["pages"] == 5
    assert [(p.line, p.query_id) for p in as_is.query_set.problems] == [(3, ""), (7, "x1"), (8, "x2")]
    first = save_run(ev.runs[2], tmp_path / "a.json")
    second = save_run(again.runs[0], tmp_path / "b.json")
    assert _hits(first) == _hits(second)
    assert compare(ev.runs[2], again.runs[0]).ties == 5


def test_catalog_without_vectors_is_never_scored_as_zeros(tmp_path: Path) -> None:
    docs, queries = _corpus(tmp_path)
    with PageRAG(PageIndex.open(tmp_path / "a", embedder=HashEmbedder())) as rag:
        evaluate(load_queries(queries), docs, rag=rag, modes=["sparse"])
    # Only the page catalog copied to a new index: its vector store starts empty.
    (tmp_path / "b").mkdir()
    for path in (tmp_path / "a").glob("catalog.sqlite*"):
        shutil.copy(path, tmp_path / "b" / path.name)
    problems: list[str] = []
    with PageRAG(PageIndex.open(tmp_path / "b", embedder=HashEmbedder())) as rag:
        try:
            ev = evaluate(
                load_queries(queries),
                docs,
                rag=rag,
                modes=["sparse"],
                on_problem=lambda p: problems.append(p.reason),
            )
        except ConfigError as exc:  # every query set aside, each for the out-of-sync store
            assert "no query can be evaluated" in str(exc)
            assert sum("not in the vector store" in r for r in problems) == 6
        else:  # ingestion repaired the store: then the queries really ran
            assert summarise(ev.runs[0]).metrics["mrr@10"] == 1.0


def test_pagerag_eval_command_with_default_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs, queries = _corpus(tmp_path)
    report = tmp_path / "out" / "report.md"
    argv = ["eval", str(queries), "--docs", str(docs), "--index", str(tmp_path / "index")]
    code = main([*argv, "--modes", "sparse,dense,hybrid", "--json", "--report", str(report), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1  # three lines set aside; the rest ran
    data = json.loads(captured.out)
    assert "queries.jsonl:8 (x2): page 9 not in 'solar.pdf' (2 pages)" in captured.err
    for mode in ("sparse", "dense", "hybrid"):
        result = data["modes"][mode]
        assert result["n"] == 5 and result["errors"] == 0
        assert result["metrics"]["ndcg@5"] >= 0.8
        assert result["latency_ms"]["p95"] > 0
    text = report.read_text()
    assert "| hybrid | 5 |" in text and "queries.jsonl:3: not valid JSON" in text
    run_file = Path(data["modes"]["hybrid"]["run_file"])
    assert run_file.parent == report.parent and run_file.name == "report-hybrid.json"
    assert main(["eval", "--compare", data["modes"]["sparse"]["run_file"], str(run_file)]) == 0
    assert "shared queries" in capsys.readouterr().out


def test_the_default_eval_index_is_named_after_the_docs_folder_and_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs, queries = _corpus(tmp_path / "solar-set")
    monkeypatch.chdir(tmp_path)
    main(["eval", str(queries), "--docs", str(docs), "--modes", "sparse", "--quiet"])
    capsys.readouterr()
    assert (tmp_path / ".pagerag-eval" / f"solar-set-{docs.name}" / "index.json").exists()
