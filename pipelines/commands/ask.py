"""`pagerag ask` and `pagerag chat`: answers from the index's pages, with their sources.

    pagerag ask "What was revenue in 2023?" [--index DIR] [-k 5] [--llm SPEC] [--json] [--no-stream]

The LLM comes from ``--llm`` or ``$PAGERAG_LLM`` (default: the measured best offline
answerer); an OpenAI-compatible server from ``--llm-url`` or ``$PAGERAG_LLM_URL`` with
the key in ``$PAGERAG_LLM_KEY`` or ``$OPENAI_API_KEY``; local models are cached in
``$PAGERAG_CACHE`` (default ``~/.cache/pagerag``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from pagerag.ingest.errors import ConfigError, PageragError
from pagerag.pipelines.answer import DEFAULT_MIN_RELEVANCE, Answer, Chat, Searcher
from pagerag.pipelines.cli import add_index_option, add_qdrant_option, qdrant_api_key, qdrant_url
from pagerag.pipelines.llm import DEFAULT_LLM, LLM, SPECS, build_llm
from pagerag.retriever.types import SearchFilter

_FILTER_KEYS = "source=PATH or GLOB, doc=HASH, page=N or N-M, or any payload field"


def register(sub: Any) -> None:
    ask_parser: argparse.ArgumentParser = sub.add_parser(
        "ask", help="answer a question from the indexed pages, citing them"
    )
    ask_parser.add_argument("question", help="the question")
    _add_options(ask_parser)
    ask_parser.add_argument("--json", action="store_true", help="print one JSON object")
    ask_parser.add_argument("--no-stream", action="store_true", help="print the answer when complete")
    ask_parser.set_defaults(func=run)
    chat_parser: argparse.ArgumentParser = sub.add_parser(
        "chat", help="a conversation: follow-up questions use the history"
    )
    _add_options(chat_parser)
    chat_parser.set_defaults(func=run_chat)


def _add_options(parser: argparse.ArgumentParser) -> None:
    add_index_option(parser)
    parser.add_argument("-k", type=int, default=5, help="pages given to the LLM (default 5)")
    parser.add_argument(
        "--llm",
        default=None,
        help=f"answer model: {', '.join(SPECS)} (default $PAGERAG_LLM or {DEFAULT_LLM})",
    )
    add_qdrant_option(parser)
    parser.add_argument("--llm-url", default=None, help="OpenAI-compatible server (default $PAGERAG_LLM_URL)")
    parser.add_argument("--llm-images", action="store_true", help="send page images (vision models)")
    parser.add_argument("--llm-timeout", type=float, default=120.0, help="seconds per LLM request")
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"restrict the search ({_FILTER_KEYS}); repeatable",
    )
    parser.add_argument(
        "--min-relevance",
        type=float,
        default=None,
        metavar="X",
        help="below this relevance (best MaxSim score per query word) list the closest pages instead of "
        f"answering; 0: always answer (default: {DEFAULT_MIN_RELEVANCE}, calibrated for the default models)",
    )


def run(args: argparse.Namespace) -> int:
    return _session(args, "ask", lambda chat: _ask_once(args, chat))


def run_chat(args: argparse.Namespace) -> int:
    return _session(args, "chat", _converse)


def _session(args: argparse.Namespace, name: str, body: Callable[[Chat], int]) -> int:
    """Parse the filter, build the LLM, open the index, and run ``body`` on a conversation."""
    try:
        search_filter = parse_filter(args.filter)
    except ConfigError as exc:
        print(f"pagerag {name}: {exc}", file=sys.stderr)
        return 2
    llm = _llm(args)
    with _open_index(args.index, qdrant_url(args)) as index:
        chat = Chat(
            index=index,
            llm=llm,
            k=args.k,
            filter=search_filter,
            min_relevance=_min_relevance(index, args.min_relevance),
        )
        return body(chat)


def _ask_once(args: argparse.Namespace, chat: Chat) -> int:
    stream = not (args.json or args.no_stream)
    answer = chat.ask(args.question, on_text=_writer(sys.stdout) if stream else None)
    if args.json:
        print(json.dumps(answer_json(answer), ensure_ascii=False, indent=2))
        return 0
    if not stream:
        print(answer.text, end="")
    print_sources(answer, sys.stdout, sys.stderr)
    return 0


def _converse(chat: Chat) -> int:
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask about your documents; an empty line or Ctrl-D ends the chat.")
    while True:
        if interactive:
            print("> ", end="", flush=True)
        question = sys.stdin.readline().strip()
        if not question or question.lower() in ("exit", "quit"):
            return 0
        try:
            answer = chat.ask(question, on_text=_writer(sys.stdout))
        except PageragError as exc:
            print(f"\npagerag chat: error: {exc}", file=sys.stderr)
            continue
        print_sources(answer, sys.stdout, sys.stderr)
        print()


def answer_json(answer: Answer) -> dict[str, Any]:
    """The ``--json`` object: answer, citations (source, page, image, score) and hits."""
    return {
        "answer": answer.text,
        "citations": [
            {"source": c.source, "page": c.page, "image": _path(c.image_path), "score": c.score}
            for c in answer.citations
        ],
        "hits": [
            {
                "source": h.source,
                "page": h.page,
                "score": h.score,
                "image": _path(h.image_path),
                "doc_id": h.doc_id,
                "snippet": h.snippet(),
            }
            for h in answer.hits
        ],
    }


def print_sources(answer: Answer, out: TextIO, err: TextIO) -> None:
    """The block after the answer: cited pages (or retrieved ones when none is cited)."""
    out.write("\n")
    if answer.dropped_citations:
        numbers = ", ".join(f"[{n}]" for n in answer.dropped_citations)
        err.write(f"note: removed citation {numbers}: the model cited a source it was not given\n")
    if not answer.found:
        return
    if answer.citations:
        out.write("\nSources:\n")
        for c in answer.citations:
            out.write(f"  [{c.n}] {c.source}, page {c.page} (score {c.score:.3f})\n")
            if c.image_path is not None:
                out.write(f"      {c.image_path}\n")
    elif answer.hits:
        out.write("\nRetrieved pages (the answer cites none):\n")
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


def _llm(args: argparse.Namespace) -> LLM:
    spec = args.llm or os.environ.get("PAGERAG_LLM") or DEFAULT_LLM
    return build_llm(
        spec,
        url=args.llm_url or os.environ.get("PAGERAG_LLM_URL"),
        api_key=os.environ.get("PAGERAG_LLM_KEY") or os.environ.get("OPENAI_API_KEY"),
        images=args.llm_images,
        cache_dir=cache_dir(),
        timeout=args.llm_timeout,
    )


def _open_index(index_dir: Path, url: str | None) -> Any:
    if url is None and not index_dir.exists():
        raise ConfigError(f"{index_dir}: no index here; run `pagerag ingest FOLDER --index {index_dir}`")
    from pagerag.retriever.index import PageIndex

    index: Searcher = PageIndex.open(index_dir, url=url, api_key=qdrant_api_key())
    return index


def _min_relevance(index: Any, asked: float | None) -> float | None:
    """The threshold asked for (0: none), else the calibrated one for a default-model index."""
    if asked is not None:
        return asked or None
    from pagerag.retriever.embedders.registry import DEFAULT_MODELS

    models = getattr(getattr(index, "spec", None), "models", None)
    return DEFAULT_MIN_RELEVANCE if models == DEFAULT_MODELS else None


def _writer(out: TextIO) -> Any:
    def write(piece: str) -> None:
        out.write(piece)
        out.flush()

    return write


def _path(path: Path | None) -> str | None:
    return str(path) if path is not None else None
