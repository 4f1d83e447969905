"""A small OpenAI-compatible chat server on 127.0.0.1 for the client tests (real HTTP, real SSE).

The model name picks the behaviour, so one server covers every case:
``echo`` answers with a fixed text citing [1]; ``auth`` wants ``Bearer good``;
``flaky`` answers 429 once, then 200; ``broken`` always 500; ``slow`` waits before
answering; ``stall`` streams one piece and then stops sending; ``html`` answers with
a web page; ``missing`` is an unknown model (404).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER_PIECES = ["Revenue ", "was $4.2M ", "in 2023 ", "[1]."]
INVENTED_PIECES = ["Revenue ", "was $4.2M ", "[1][9]."]


@dataclass
class ServerState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    slow_seconds: float = 2.0


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        state = self.state
        state.requests.append(body)
        state.headers.append(dict(self.headers))
        model = body.get("model", "")
        state.calls[model] = state.calls.get(model, 0) + 1
        if model == "auth" and self.headers.get("Authorization") != "Bearer good":
            self._json(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}})
        elif model == "missing":
            error = {"message": "The model `missing` does not exist", "code": "model_not_found"}
            self._json(404, {"error": error})
        elif model == "flaky" and state.calls[model] == 1:
            self._json(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "0"})
        elif model == "broken":
            self._json(500, {"error": {"message": "internal error"}})
        elif model == "html":
            raw = b"<html><body>Welcome to nginx!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        elif model == "slow":
            time.sleep(state.slow_seconds)
            self._answer(body)
        else:
            self._answer(body)

    def _answer(self, body: dict[str, Any]) -> None:
        pieces = INVENTED_PIECES if body.get("model") == "invent" else ANSWER_PIECES
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(pieces)}
            choices = [{"index": 0, "message": message, "finish_reason": "stop"}]
            self._json(200, {"id": "x", "object": "chat.completion", "choices": choices})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self._event({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        for i, piece in enumerate(pieces):
            self._event({"choices": [{"index": 0, "delta": {"content": piece}}]})
            if body.get("model") == "stall" and i == 0:
                time.sleep(self.state.slow_seconds)
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, data: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _json(self, code: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out on purpose close their end: not an error here


@contextmanager
def serve() -> Iterator[tuple[str, ServerState]]:
    """Run the server on a free loopback port; yields its root URL and what it saw."""
    state = ServerState()
    handler = type("Handler", (_Handler,), {"state": state})
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
