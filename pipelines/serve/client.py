"""The CLI's side of a running ``pagerag serve``: the same calls, over HTTP.

When a server holds an index, ``pagerag search/ask/chat/ingest/remove`` on that index use
:class:`RemoteRAG` instead of opening it (the embedded engine admits one process).

Example:
    >>> remote = RemoteRAG("http://127.0.0.1:8000")  # doctest: +SKIP
    >>> [(h.source, h.page) for h in remote.search("revenue 2023", k=3)]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pagerag.ingest.errors import PageragError
from pagerag.ingest.types import DocumentInfo
from pagerag.pipelines.answer import Answer, Citation
from pagerag.retriever.types import Hit, Mode

_TIMEOUT = 600.0


class ServerError(PageragError):
    """The server answered with an error (its message is this one's)."""


class RemoteRAG:
    """A running ``pagerag serve``, called the way :class:`~pagerag.pipelines.core.PageRAG` is."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = _TIMEOUT) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteRAG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServerError(f"the server at {self.url} did not answer: {exc}") from exc
        return _checked(response)

    def search(
        self, query: str, k: int = 5, mode: Mode = "hybrid", filters: Mapping[str, Any] | None = None
    ) -> list[Hit]:
        body = {"query": query, "k": k, "mode": mode, "filters": dict(filters) if filters else None}
        return [_hit(h) for h in self._call("POST", "/v1/search", json=body)["hits"]]

    def search_many(
        self,
        queries: Sequence[str],
        k: int = 5,
        mode: Mode = "hybrid",
        filters: Mapping[str, Any] | None = None,
    ) -> list[list[Hit]]:
        body = {"queries": list(queries), "k": k, "mode": mode, "filters": dict(filters) if filters else None}
        results = self._call("POST", "/v1/search/batch", json=body)["results"]
        return [[_hit(h) for h in r["hits"]] for r in results]

    def documents(self) -> list[DocumentInfo]:
        docs = self._call("GET", "/v1/documents")["documents"]
        return [
            DocumentInfo(d["doc_id"], d["source"], d["pages"], d["title"], d["indexed_at"], d["kind"])
            for d in docs
        ]

    def remove(self, doc_id: str) -> list[str]:
        removed: list[str] = self._call("DELETE", f"/v1/documents/{doc_id}")["removed"]
        return removed

    def ask(
        self,
        question: str,
        *,
        k: int = 3,
        llm: str | None = None,
        history: Sequence[tuple[str, str]] = (),
        filters: Mapping[str, Any] | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> Answer:
        """The answer, its pieces passed to ``on_text`` as they stream in."""
        import httpx

        body = {
            "question": question,
            "k": k,
            "llm": llm,
            "history": [list(turn) for turn in history],
            "filters": dict(filters) if filters else None,
            "stream": True,
        }
        try:
            with self._http.stream("POST", "/v1/ask", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    _checked(response)
                for event, data in _events(response.iter_lines()):
                    if event == "token" and on_text is not None:
                        on_text(data["text"])
                    elif event == "error":
                        raise ServerError(data["error"]["message"])
                    elif event == "done":
                        return _answer(data)
        except httpx.HTTPError as exc:
            raise ServerError(f"the server at {self.url} did not answer: {exc}") from exc
        raise ServerError(f"the server at {self.url} ended the answer early")

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        sync: bool = False,
        on_status: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Ingest local files and folders (under the server's ingest root); waits for the job's end."""
        body = {"paths": [str(Path(p).absolute()) for p in paths], "sync": sync}
        started = self._call("POST", "/v1/ingest", json=body)
        while True:
            status: dict[str, Any] = self._call("GET", started["status"])
            if on_status is not None:
                on_status(status)
            if status["state"] in ("done", "failed"):
                return status
            time.sleep(0.5)


def _checked(response: Any) -> Any:
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        raise ServerError(str(error.get("message") or f"HTTP {response.status_code}"))
    return data


def _events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """Server-sent events as ``(event, parsed data)``."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", list[str]()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def _hit(h: Mapping[str, Any]) -> Hit:
    label = h.get("label")
    return Hit(
        source=h["source"],
        page=h["page"],
        score=h["score"],
        text=h.get("snippet", ""),
        image_path=None,
        doc_id=h["doc_id"],
        title=h.get("title", ""),
        labels=(label,) if label is not None else (),
    )


def _answer(data: Mapping[str, Any]) -> Answer:
    hits = tuple(_hit(h) for h in data["hits"])
    citations = tuple(Citation(c["n"], c["source"], c["page"], None, c["score"]) for c in data["citations"])
    return Answer(
        question=data["question"],
        text=data["answer"],
        citations=citations,
        hits=hits,
        found=data["answered"],
        search_query=data.get("search_query", ""),
        timings=dict(data.get("timings", {})),
        llm=data.get("llm", ""),
    )
