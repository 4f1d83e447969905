"""Summaries, reports, run files and `pagerag eval --compare` on synthetic runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from pagerag.ingest.errors import ConfigError
from pagerag.pipelines.cli import main
from pagerag.pipelines.evaluation import report
from pagerag.pipelines.evaluation.queries import EvalQuery, QueryProblem
from pagerag.pipelines.evaluation.runfile import (
    AnswerRecord,
    ModeRun,
    QueryRun,
    RankedPage,
    load_run,
    save_run,
)
from pagerag.pipelines.evaluation.summary import compare, summarise

Q1 = EvalQuery("q1", "revenue chart", "a.pdf", (2,), answer="34%", modality="chart", lang="en", line=1)
Q2 = EvalQuery("q2", "table of costs", "b.pdf", (1, 3), modality="table", lang="de", line=2)
Q3 = EvalQuery("q3", "who wrote it", "a.pdf", (1,), modality="text", lang="en", line=3)


def _hits(*keys: tuple[str, int]) -> tuple[RankedPage, ...]:
    return tuple(RankedPage(s, p, 1.0 / (i + 1)) for i, (s, p) in enumerate(keys))


def _run(mode: str, q1: tuple[RankedPage, ...], q2: tuple[RankedPage, ...], q3_error: str = "") -> ModeRun:
    return ModeRun(
        mode=mode,
        scope="corpus",
        k=10,
        queries=(
            QueryRun(
                Q1, q1, 10.0, answer=AnswerRecord("It is 34% in 2020", (("a.pdf", 2), ("b.pdf", 1)), 1.5)
            ),
            QueryRun(Q2, q2, 20.0),
            QueryRun(Q3, () if q3_error else _hits(("a.pdf", 1)), 30.0, error=q3_error),
        ),
        info={"queries_file": "q.jsonl"},
    )


SPARSE = _run("sparse", _hits(("a.pdf", 1), ("a.pdf", 2)), _hits(("b.pdf", 1), ("b.pdf", 3)))
HYBRID = _run("hybrid", _hits(("a.pdf", 2)), _hits(("b.pdf", 2), ("b.pdf", 1)), q3_error="ModelError: boom")


def test_summary_counts_errors_as_zero_and_breaks_down() -> None:
    s = summarise(HYBRID)
    assert s.n == 3 and s.errors == 1
    assert s.per_query["q3"]["ndcg@5"] == 0.0
    assert s.per_query["q1"]["ndcg@5"] == 1.0
    # q2: gold {1, 3}, hits [b#2, b#1]: recall@5 = 1/2, MRR = 1/2
    assert s.per_query["q2"]["recall@5"] == 0.5 and s.per_query["q2"]["mrr@10"] == 0.5
    assert s.metrics["recall@1"] == pytest.approx(1 / 3)
    # latency over the queries that ran (10, 20): p50 15
    assert s.latency_p50_ms == 15.0
    langs = {g.value: g for g in s.breakdown["lang"]}
    assert (langs["en"].n, langs["de"].n) == (2, 1)
    assert langs["en"].metrics["ndcg@5"] == 0.5
    assert s.answers is not None
    assert (s.answers.n, s.answers.citation_precision, s.answers.cited_rate) == (1, 0.5, 1.0)
    assert s.answers.contains == 1.0


def test_run_file_round_trip(tmp_path: Path) -> None:
    path = save_run(HYBRID, tmp_path / "runs" / "x-hybrid.json")
    back = load_run(path)
    assert back == HYBRID
    data = json.loads(path.read_text())
    assert data["queries"][0]["hits"][0] == {"source": "a.pdf", "page": 2, "score": 1.0}


def test_bad_run_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run file not found"):
        load_run(tmp_path / "none.json")
    (tmp_path / "x.json").write_text('{"format": 1, "mode": "hybrid"}')
    with pytest.raises(ConfigError, match=r"x\.json: malformed run file"):
        load_run(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("[]")
    with pytest.raises(ConfigError, match="not a pagerag run file"):
        load_run(tmp_path / "y.json")


def test_compare_wins_losses_and_deltas() -> None:
    c = compare(SPARSE, HYBRID)
    # nDCG@5 per query, sparse -> hybrid: q1 0.631 -> 1 (win), q2 -> lower (loss), q3 1 -> 0 (loss)
    assert [d.id for d in c.wins] == ["q1"]
    assert [d.id for d in c.losses] == ["q3", "q2"]
    assert c.ties == 0
    a, b = c.metrics["recall@1"]
    # recall@1: sparse (0 + 1/2 + 1) / 3, hybrid (1 + 0 + 0) / 3
    assert (a, b) == (pytest.approx(0.5), pytest.approx(1 / 3))


def test_compare_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = save_run(SPARSE, tmp_path / "a.json")
    other = ModeRun(
        "hybrid",
        "corpus",
        10,
        (*HYBRID.queries[:2], QueryRun(EvalQuery("q9", "x", "a.pdf", (1,)), (), 1.0)),
    )
    b = save_run(other, tmp_path / "b.json")
    assert main(["eval", "--compare", str(a), str(b)]) == 0
    text = capsys.readouterr().out
    assert "1 wins, 1 losses, 0 ties" in text
    assert "only in A" in text and "q3" in text and "q9" in text
    assert main(["eval", "--compare", str(a), str(b), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [w["id"] for w in data["wins"]] == ["q1"]
    assert data["metrics"]["ndcg@5"]["delta"] == pytest.approx(
        data["metrics"]["ndcg@5"]["b"] - data["metrics"]["ndcg@5"]["a"]
    )
    assert main(["eval", "--compare", str(a), str(tmp_path / "missing.json")]) == 1


def test_report_outputs() -> None:
    summaries = [summarise(HYBRID), summarise(SPARSE)]
    problems = [QueryProblem("q.jsonl", 7, "not valid JSON")]
    info = {
        "queries_file": "q.jsonl",
        "ingest": {"seconds": 12.0, "pages_indexed": 6, "seconds_per_page": 2.0},
        "index_size": {"total": 6 * 1024 * 100, "vectors": 6 * 1024 * 40, "documents": 2, "pages": 6},
    }
    md = report.to_markdown(summaries, info=info, problems=problems, command="pagerag eval q.jsonl")
    assert "| hybrid | 3 |" in md and "| sparse | 3 |" in md
    assert "## by lang" in md and "## answers" in md
    assert "100.0 KiB/page" in md and "(2.00 s/page)" in md
    assert "q.jsonl:7: not valid JSON" in md
    data = report.to_json(summaries, info=info, problems=problems, run_files={"hybrid": "r.json"})
    assert set(data["modes"]) == {"hybrid", "sparse"}
    assert data["modes"]["hybrid"]["breakdown"]["modality"]["chart"]["n"] == 1
    assert data["modes"]["hybrid"]["answers"]["n"] == 1 and data["modes"]["sparse"]["answers"]["n"] == 1
    assert data["problems"] == [{"line": 7, "id": "", "reason": "not valid JSON"}]
    console = Console(record=True, width=160)
    report.render(summaries, console, info=info, problems=problems)
    text = console.export_text()
    assert "nDCG@5" in text and "by modality" in text and "skipped q.jsonl:7" in text


def test_command_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval"]) == 2
    assert "--docs" in capsys.readouterr().err
    queries = tmp_path / "q.jsonl"
    queries.write_text("")
    assert main(["eval", str(queries), "--docs", str(tmp_path / "none")]) == 1
    assert "documents folder not found" in capsys.readouterr().err
    assert main(["eval", str(queries), "--docs", str(tmp_path), "--modes", "hybrid,bm25"]) == 1
    assert "unknown mode 'bm25'" in capsys.readouterr().err
    assert main(["eval", str(queries), "--docs", str(tmp_path), "--model", "dense"]) == 1
    assert "--model: expected" in capsys.readouterr().err


def test_eval_takes_the_model_options_of_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "1", "query": "x", "doc": "a.pdf", "pages": [1]}\n')
    (tmp_path / "docs").mkdir()
    code = main(["eval", str(queries), "--docs", str(tmp_path / "docs"), "--index", str(tmp_path / "i"),
                 "--multi", "no-such-model", "--quiet"])  # fmt: skip
    assert code != 0
    assert "no-such-model" in capsys.readouterr().err
