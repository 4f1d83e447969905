"""A client for OpenAI-compatible chat APIs: OpenAI, vLLM, Ollama, llama.cpp server, LM Studio, TGI.

Streams server-sent events, sends page images as base64 data URLs to vision
models, retries 429 and 5xx answers with backoff, and turns every failure into
an :class:`~pagerag.ingest.errors.LLMError` that says what to fix.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from pagerag.ingest.errors import LLMError
from pagerag.pipelines.llm.base import Prompt, estimate_tokens

DEFAULT_URL = "https://api.openai.com/v1"
_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAICompatLLM:
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: the model name the server knows (``gpt-4o-mini``, ``qwen2.5:7b``, ...).
        base_url: the API root; ``http://host:port`` gets ``/v1`` added.
        api_key: sent as a bearer token when given.
        vision: send page images as image parts.
        timeout: seconds to wait for the connection and for each streamed piece.
        retries: further tries after a 429, a 5xx or a timeout before the first token.
        backoff: seconds before the first retry, doubled each time (``Retry-After`` wins).
        context_tokens: the model's context window.
        max_new_tokens: the most tokens the answer may take.
        temperature: sampling temperature (0: deterministic where the server allows).
        transport: an httpx transport (tests, proxies).

    Example:
        >>> llm = OpenAICompatLLM("qwen2.5:7b", base_url="http://localhost:11434")
        >>> "".join(llm.generate(prompt))  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        vision: bool = False,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 1.0,
        context_tokens: int = 16384,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not model:
            raise LLMError("openai: a model name is needed (--llm openai:MODEL)")
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = _api_root(base_url or DEFAULT_URL)
        self.vision = vision
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.context_tokens = context_tokens
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def close(self) -> None:
        self._client.close()

    def generate(self, prompt: Prompt, images: Sequence[Path] = (), *, stream: bool = True) -> Iterator[str]:
        body = self.request_body(prompt, images, stream=stream)
        if not stream:
            yield self._complete(body)
            return
        yield from self._stream(body)

    def request_body(self, prompt: Prompt, images: Sequence[Path] = (), *, stream: bool) -> dict[str, Any]:
        """The JSON body of the chat request (images only for vision models)."""
        content: str | list[dict[str, Any]] = prompt.user
        if self.vision and (images or prompt.images()):
            content = []
            labelled = [
                (f"Image of source [{s.n}] ({s.source}, page {s.page}):", s.image_path)
                for s in prompt.sources
                if s.image_path is not None
            ]
            if images and list(images) != prompt.images():
                labelled = [("Page image:", path) for path in images]
            for label, path in labelled:
                content.append({"type": "text", "text": label})
                content.append({"type": "image_url", "image_url": {"url": data_url(path)}})
            content.append({"type": "text", "text": prompt.user})
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": content},
            ],
            "stream": stream,
            "max_tokens": self.max_new_tokens,
            "temperature": self.temperature,
        }

    def _complete(self, body: dict[str, Any]) -> str:
        for attempt in self._attempts():
            try:
                response = self._client.post("/chat/completions", json=body)
            except httpx.TimeoutException as exc:
                attempt.failed(f"timed out after {self.timeout:g} s ({type(exc).__name__})")
                continue
            except httpx.TransportError as exc:
                raise self._connection_error(exc) from exc
            if response.status_code in _RETRY_STATUS:
                attempt.failed(_status_text(response), response.headers.get("retry-after"))
                continue
            self._check(response)
            try:
                data = response.json()
                content = data["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise self._protocol_error(response.text) from exc
            if not isinstance(content, str):
                raise self._protocol_error(response.text)
            return content
        raise AssertionError("unreachable")  # pragma: no cover

    def _stream(self, body: dict[str, Any]) -> Iterator[str]:
        for attempt in self._attempts():
            started = False
            try:
                with self._client.stream("POST", "/chat/completions", json=body) as response:
                    if response.status_code in _RETRY_STATUS:
                        response.read()
                        attempt.failed(_status_text(response), response.headers.get("retry-after"))
                        continue
                    if response.status_code >= 400:
                        response.read()
                        self._check(response)
                    if "text/event-stream" not in response.headers.get("content-type", ""):
                        # Some servers ignore "stream": they answer with one JSON body.
                        response.read()
                        yield self._message_of(response)
                        return
                    for piece in self._events(response):
                        started = True
                        yield piece
                    return
            except httpx.TimeoutException as exc:
                if started:
                    raise LLMError(f"{self.name}: the stream stalled for {self.timeout:g} s") from exc
                attempt.failed(f"timed out after {self.timeout:g} s ({type(exc).__name__})")
            except httpx.TransportError as exc:
                if started:
                    raise LLMError(f"{self.name}: the connection broke mid-answer: {exc}") from exc
                raise self._connection_error(exc) from exc

    def _events(self, response: httpx.Response) -> Iterator[str]:
        seen_data = False
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                return
            try:
                event = json.loads(payload)
                if "error" in event and "choices" not in event:
                    raise LLMError(f"{self.name}: the server reported an error: {event['error']}")
                choices = event["choices"]
                delta = choices[0].get("delta") or {} if choices else {}
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                raise self._protocol_error(payload) from exc
            seen_data = True
            piece = delta.get("content")
            if isinstance(piece, str) and piece:
                yield piece
        if not seen_data:
            raise self._protocol_error("an event stream with no data events")

    def _message_of(self, response: httpx.Response) -> str:
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise self._protocol_error(response.text) from exc
        if not isinstance(content, str):
            raise self._protocol_error(response.text)
        return content

    def _check(self, response: httpx.Response) -> None:
        code = response.status_code
        if code < 400:
            return
        detail = _status_text(response)
        if code in (401, 403):
            raise LLMError(
                f"{self.name}: {self.base_url} rejected the API key ({detail}); "
                "set OPENAI_API_KEY or PAGERAG_LLM_KEY"
            )
        if code == 404:
            raise LLMError(
                f"{self.name}: model {self.model!r} or the chat endpoint was not found at "
                f"{self.base_url} ({detail}); check --llm openai:MODEL and --llm-url"
            )
        raise LLMError(f"{self.name}: the server refused the request ({detail})")

    def _attempts(self) -> Iterator[_Attempt]:
        delay = self.backoff
        for i in range(self.retries + 1):
            attempt = _Attempt()
            yield attempt
            if attempt.reason is None:
                return
            if i == self.retries:
                break
            wait = _retry_after(attempt.retry_after, default=delay)
            time.sleep(wait)
            delay *= 2
        raise LLMError(f"{self.name}: gave up after {self.retries + 1} tries: {attempt.reason}")

    def _connection_error(self, exc: Exception) -> LLMError:
        return LLMError(f"{self.name}: cannot connect to {self.base_url}: {exc}. Is the server running?")

    def _protocol_error(self, text: str) -> LLMError:
        sample = " ".join(text.split())[:200]
        return LLMError(
            f"{self.name}: {self.base_url} did not answer as an OpenAI-compatible API: {sample!r}"
        )


class _Attempt:
    __slots__ = ("reason", "retry_after")

    def __init__(self) -> None:
        self.reason: str | None = None
        self.retry_after: str | None = None

    def failed(self, reason: str, retry_after: str | None = None) -> None:
        self.reason = reason
        self.retry_after = retry_after


def data_url(path: Path) -> str:
    """A page image as a ``data:`` URL (the way OpenAI-compatible APIs take inline images)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LLMError(f"{path}: cannot read the page image: {exc.strerror or exc}") from exc
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _api_root(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LLMError(f"not an http(s) URL for the LLM server: {url!r}")
    root = url.rstrip("/")
    return root + "/v1" if parts.path in ("", "/") else root


def _status_text(response: httpx.Response) -> str:
    try:
        data = response.json()
        message = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(message, dict):
            message = message.get("message", message)
    except ValueError:
        message = " ".join(response.text.split())[:200]
    return f"HTTP {response.status_code}: {message}" if message else f"HTTP {response.status_code}"


def _retry_after(value: str | None, *, default: float, cap: float = 30.0) -> float:
    try:
        return min(float(value), cap) if value is not None else default
    except ValueError:
        return default
