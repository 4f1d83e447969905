"""Test-wide settings: offline, loopback only, native threads at 1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SAMPLE_DOCS = Path(__file__).resolve().parents[1] / "sample_docs"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _loopback_only() -> object:
    """Block network sockets except loopback (pytest-socket)."""
    from pytest_socket import socket_allow_hosts

    socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
    yield


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_docs ingested once with the packaged models; copy it before changing it."""
    from pagerag.pipelines.core import PageRAG

    index = tmp_path_factory.mktemp("sample") / "index"
    with PageRAG.open(index) as rag:
        report = rag.ingest(SAMPLE_DOCS)
    assert report.indexed == 4 and not report.failed
    return index
