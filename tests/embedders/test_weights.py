"""Full-size model weights: a local folder, the local hub cache, or a fast, clear failure offline."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pagerag.ingest.errors import ModelError
from pagerag.retriever.embedders.weights import local_weights


def test_a_local_folder_is_used_as_it_is(tmp_path: Path) -> None:
    assert local_weights(str(tmp_path), "jina-v4") == str(tmp_path)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is not a folder with model weights"):
        local_weights(str(tmp_path / "nothing"), "colbert")


def test_a_cached_hub_model_loads_from_its_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    repo = tmp_path / "models--acme--tiny"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert Path(local_weights("acme/tiny", "colqwen2")) == snapshot


def test_an_uncached_model_without_the_hub_fails_at_once() -> None:
    start = time.monotonic()  # sockets other than loopback are blocked in tests: the hub is unreachable
    with pytest.raises(
        ModelError, match=r"not found locally .* pass a local folder \(jina-v4:/path/to/model\)"
    ):
        local_weights("acme/not-downloaded", "jina-v4")
    assert time.monotonic() - start < 5


def test_the_cli_fails_in_one_line_and_writes_no_index(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.md").write_text("# A note\n\nSome text.\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # no network probe from the test
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pagerag.pipelines",
            "ingest",
            str(docs),
            "--index",
            str(tmp_path / "idx"),
            "--dense",
            "jina-v4",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "pagerag: error: jina-v4: weights of 'jinaai/jina-embeddings-v4' not found locally and the "
        "Hugging Face hub cannot be reached; download them, or pass a local folder (jina-v4:/path/to/model)"
    ]
    assert not (tmp_path / "idx").exists()
