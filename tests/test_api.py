"""The two-call API end to end with the real default models, embedded Qdrant and the extractive answerer."""

from __future__ import annotations

from pathlib import Path

from pagerag.pipelines import ask, index_folder


def test_index_folder_then_ask_cites_the_right_page(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.txt").write_text(
        "The Skarv lighthouse was built in 1871 and its lamp can be seen 19 nautical miles away.\n",
        encoding="utf-8",
    )
    (docs / "bakery.md").write_text(
        "# Bakery\nThe Lindqvist bakery sells 640 cinnamon buns on an average Saturday.\n",
        encoding="utf-8",
    )
    (docs / "notes.xyz").write_text("not a document", encoding="utf-8")
    index = tmp_path / "index"

    report = index_folder(docs, index=index)
    assert (report.documents, report.pages, report.indexed) == (2, 2, 2)
    assert [p.path for p in report.skipped] and "notes.xyz" in report.skipped[0].path
    again = index_folder(docs, index=index)
    assert (again.indexed, again.unchanged) == (0, 2)

    answer = ask("How many cinnamon buns does the bakery sell on a Saturday?", index=index, llm="extractive")
    assert answer.found
    assert "640" in answer.text
    assert [(c.source, c.page) for c in answer.citations][:1] == [("bakery.md", 1)]
