"""`pagerag ask` and `pagerag chat`: answers from the index's pages, with their sources.

    pagerag ask "What was revenue in 2023?" [--index DIR] [-k 5] [--llm SPEC] [--json] [--no-stream]

The LLM comes from ``--llm`` or ``$PAGERAG_LLM`` (default: the measured best offline
answerer); an OpenAI-compatible server from ``--llm-url`` or ``$PAGERAG_LLM_URL`` with
the key in ``$PAGERAG_LLM_KEY`` or ``$OPENAI_API_KEY``; local models are cached in
``$PAGERAG_CACHE`` (default ``~/.cache/pagerag``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TextIO

from pagerag.ingest.errors import ConfigError, PageragError
from pagerag.pipelines.answer import DEFAULT_MIN_RELEVANCE, Answer
from pagerag.pipelines.cli import (
    add_filter_option,
    add_index_option,
    add_qdrant_option,
    qdrant_api_key,
    qdrant_url,
    server_for,
)
from pagerag.pipelines.llm import DEFAULT_LLM, LLM, SPECS, build_llm
from pagerag.pipelines.prompt import NOT_FOUND
from pagerag.pipelines.serve.client import RemoteRAG
from pagerag.pipelines.shapes import answer_json
from pagerag.retriever.types import MAX_K, SearchFilter


def register(sub: Any) -> None:
    ask_parser: argparse.ArgumentParser = sub.add_parser(
        "ask",
        help="answer a question from the indexed pages, citing them",
        description="Answer a question from the best pages of the index: the answer streams in, then the "
        "pages it cites (source, page, score, image). --json prints one object.",
    )
    ask_parser.add_argument("question", help="the question")
    _add_options(ask_parser)
    ask_parser.add_argument("--json", action="store_true", help="print one JSON object")
    ask_parser.add_argument("--no-stream", action="store_true", help="print the answer when complete")
    ask_parser.set_defaults(func=run)
    chat_parser: argparse.ArgumentParser = sub.add_parser(
        "chat",
        help="a conversation: follow-up questions use the history",
        description='Ask questions one after another; a follow-up ("and in 2022?") is understood with the '
        "earlier ones. Ctrl-D ends the chat.",
    )
    _add_options(chat_parser)
    chat_parser.set_defaults(func=run_chat)


def add_llm_options(parser: argparse.ArgumentParser) -> None:
    """``--llm SPEC`` and how to reach it (``--llm-url``, ``--llm-images``, ``--llm-timeout``)."""
    parser.add_argument(
        "--llm",
        default=None,
        help=f"answer model: {', '.join(SPECS)} (default $PAGERAG_LLM or {DEFAULT_LLM})",
    )
    parser.add_argument("--llm-url", default=None, help="OpenAI-compatible server (default $PAGERAG_LLM_URL)")
    parser.add_argument("--llm-images", action="store_true", help="send page images (vision models)")
    parser.add_argument("--llm-timeout", type=float, default=120.0, help="seconds per LLM request")


def _add_options(parser: argparse.ArgumentParser) -> None:
    add_index_option(parser)
    parser.add_argument("-k", type=int, default=5, help="pages given to the LLM (default 5)")
    add_qdrant_option(parser)
    add_llm_options(parser)
    add_filter_option(parser)
    parser.add_argument(
        "--min-relevance",
        type=float,
        default=None,
        metavar="X",
        help="below this relevance (best MaxSim score per query word) list the closest pages instead of "
        f"answering; 0: always answer (default: {DEFAULT_MIN_RELEVANCE}, calibrated for the default models)",
    )


def run(args: argparse.Namespace) -> int:
    if not args.question.strip():
        print("pagerag ask: error: the question is empty", file=sys.stderr)
        return 2
    return _session(args, "ask", lambda chat: _ask_once(args, chat))


def run_chat(args: argparse.Namespace) -> int:
    return _session(args, "chat", _converse)


def _session(args: argparse.Namespace, name: str, body: Callable[[Conversation], int]) -> int:
    """Check the options, then run ``body`` on a conversation: through a running server, or in-process."""
    try:
        search_filter = parse_filter(args.filter)
        if not 1 <= args.k <= MAX_K:
            raise ConfigError(f"-k must be between 1 and {MAX_K}, not {args.k}")
    except ConfigError as exc:
        print(f"pagerag {name}: {exc}", file=sys.stderr)
        return 2
    remote = server_for(args)
    if remote is not None:
        with remote:
            return body(RemoteChat(remote, args.k, args.llm, filter_items(args.filter)))
    if qdrant_url(args) is None and not args.index.exists():
        raise ConfigError(f"{args.index}: no index here; run `pagerag ingest FOLDER --index {args.index}`")
    llm = build_cli_llm(args)
    with open_rag(args) as rag:
        return body(rag.chat(k=args.k, llm=llm, filters=search_filter, min_relevance=args.min_relevance))


def open_rag(args: argparse.Namespace) -> Any:
    """The index, opened in this process."""
    from pagerag.pipelines.core import PageRAG

    return PageRAG.open(args.index, qdrant_url=qdrant_url(args), api_key=qdrant_api_key())


class Conversation(Protocol):
    """A chat, in this process or through a server."""

    def ask(self, question: str, *, on_text: Callable[[str], None] | None = None) -> Answer: ...


class RemoteChat:
    """A conversation through ``pagerag serve``: the history goes with each question."""

    def __init__(self, remote: RemoteRAG, k: int, llm: str | None, filters: dict[str, Any] | None) -> None:
        self._remote, self._k, self._llm, self._filters = remote, k, llm, filters
        self.history: list[tuple[str, str]] = []

    def ask(self, question: str, *, on_text: Callable[[str], None] | None = None) -> Answer:
        answer = self._remote.ask(
            question, k=self._k, llm=self._llm, history=self.history, filters=self._filters, on_text=on_text
        )
        self.history.append((question, answer.text))
        return answer


def filter_items(items: list[str]) -> dict[str, Any] | None:
    """``--filter key=value`` options as the API's filter mapping (repeated keys become lists)."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key in out:
            out[key] = [*(out[key] if isinstance(out[key], list) else [out[key]]), value]
        else:
            out[key] = value
    return out or None


def _ask_once(args: argparse.Namespace, chat: Conversation) -> int:
    stream = not (args.json or args.no_stream)
    answer = chat.ask(args.question, on_text=_writer(sys.stdout) if stream else None)
    if args.json:
        print(json.dumps(answer_json(answer), ensure_ascii=False, indent=2))
        return 0
    if not stream:
        print(answer.text, end="")
    print_sources(answer, sys.stdout, sys.stderr)
    return 0


def _converse(chat: Conversation) -> int:
    for question in _questions():
        if question.lower() in ("exit", "quit"):
            break
        try:
            answer = chat.ask(question, on_text=_writer(sys.stdout))
        except PageragError as exc:
            print(f"\npagerag chat: error: {exc}", file=sys.stderr)
            continue
        print_sources(answer, sys.stdout, sys.stderr)
        print()
    return 0


def _questions() -> Iterator[str]:
    """The user's questions until Ctrl-D (or the end of piped input); empty lines are skipped.

    At a terminal the line is edited with readline: arrow keys move, the up arrow brings back earlier
    questions (kept in ``~/.pagerag_history``).
    """
    if not sys.stdin.isatty():
        yield from (line.strip() for line in sys.stdin if line.strip())
        return
    import readline

    history = Path.home() / ".pagerag_history"
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    print("Ask about your documents; Ctrl-D ends the chat.")
    try:
        while True:
            try:
                question = input("> ").strip()
            except EOFError:
                print()
                return
            if question:
                yield question
    finally:
        with contextlib.suppress(OSError):
            readline.set_history_length(1000)
            readline.write_history_file(history)


def print_sources(answer: Answer, out: TextIO, err: TextIO) -> None:
    """The block after the answer: cited pages (or retrieved ones when none is cited)."""
    out.write("\n")
    if answer.dropped_citations:
        numbers = ", ".join(f"[{n}]" for n in answer.dropped_citations)
        err.write(f"note: removed citation {numbers}: the model cited a source it was not given\n")
    if not answer.found and not answer.text.startswith(NOT_FOUND):
        return  # nothing relevant: the answer itself names the closest pages
    if answer.citations:
        out.write("\nSources:\n")
        for c in answer.citations:
            out.write(f"  [{c.n}] {c.source}, page {c.page} (score {c.score:.3f})\n")
            if c.image_path is not None:
                out.write(f"      {c.image_path}\n")
    elif answer.hits:
        why = "none holds the answer" if not answer.found else "the answer cites none"
        out.write(f"\nRetrieved pages ({why}):\n")
        for i, h in enumerate(answer.hits, 1):
            out.write(f"  [{i}] {h.source}, page {h.page} (score {h.score:.3f})\n")
    out.flush()


def parse_filter(items: list[str]) -> SearchFilter | None:
    """``--filter key=value`` options (as ``pagerag search`` reads them); None when there are none."""
    from pagerag.retriever.search import parse_filters

    return parse_filters(items) if items else None


def cache_dir() -> Path:
    """Where local models are kept: ``$PAGERAG_CACHE``, else ``$XDG_CACHE_HOME/pagerag``."""
    if os.environ.get("PAGERAG_CACHE"):
        return Path(os.environ["PAGERAG_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "pagerag"


def build_cli_llm(args: argparse.Namespace) -> LLM:
    """The answer model the options and environment ask for (``--llm``, ``$PAGERAG_LLM``, ...)."""
    spec = args.llm or os.environ.get("PAGERAG_LLM") or DEFAULT_LLM
    return build_llm(
        spec,
        url=args.llm_url or os.environ.get("PAGERAG_LLM_URL"),
        api_key=os.environ.get("PAGERAG_LLM_KEY") or os.environ.get("OPENAI_API_KEY"),
        images=args.llm_images,
        cache_dir=cache_dir(),
        timeout=args.llm_timeout,
    )


def _writer(out: TextIO) -> Any:
    def write(piece: str) -> None:
        out.write(piece)
        out.flush()

    return write
