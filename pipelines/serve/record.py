"""The running server's address, kept in the index directory (``server.json``) for the CLI to find.

A record left by a killed server is recognised (its process is gone, or something else
answers at its address) and ignored.

Example:
    >>> record = find_server(Path(".pagerag"))  # doctest: +SKIP
    >>> record.url if record else "no server"  # doctest: +SKIP
    'http://127.0.0.1:8000'
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from pagerag.ingest.procs import alive

RECORD_NAME = "server.json"


@dataclass(frozen=True, slots=True)
class ServerRecord:
    """Where a ``pagerag serve`` of this index listens.

    Attributes:
        url: its base URL (``http://127.0.0.1:8000``).
        pid: the server's process id.
        key_required: whether its API needs a bearer key.
    """

    url: str
    pid: int
    key_required: bool


def write_record(index_dir: Path, record: ServerRecord) -> None:
    """Record the server (atomically: a reader never sees half a file)."""
    path = Path(index_dir) / RECORD_NAME
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(record)) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def remove_record(index_dir: Path, pid: int) -> None:
    """Remove the record if it is this server's (``pid``)."""
    found = read_record(index_dir)
    if found is not None and found.pid == pid:
        (Path(index_dir) / RECORD_NAME).unlink(missing_ok=True)


def read_record(index_dir: Path) -> ServerRecord | None:
    """The record as written, or None (missing or unreadable)."""
    try:
        data = json.loads((Path(index_dir) / RECORD_NAME).read_text(encoding="utf-8"))
        return ServerRecord(str(data["url"]), int(data["pid"]), bool(data["key_required"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_server(index_dir: Path, *, timeout: float = 2.0) -> ServerRecord | None:
    """The live server of ``index_dir``, or None when there is none (or its record is stale)."""
    import httpx

    record = read_record(index_dir)
    if record is None or not alive(record.pid):
        return None
    try:
        health = httpx.get(f"{record.url}/healthz", timeout=timeout).json()
    except (httpx.HTTPError, ValueError):
        return None
    return record if isinstance(health, dict) and health.get("pid") == record.pid else None
