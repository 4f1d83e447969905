"""`pagerag ingest --dense/--multi/--sparse`: model choice is checked before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from pagerag.pipelines.cli import main


def test_an_unknown_model_is_a_usage_error_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("hello", encoding="utf-8")
    index = tmp_path / "index"
    code = main(["ingest", str(tmp_path / "a.txt"), "--index", str(index), "--dense", "nosuch", "--quiet"])
    assert code == 2
    assert "unknown model 'nosuch'" in capsys.readouterr().err
    assert not (index / "catalog.sqlite").exists()
