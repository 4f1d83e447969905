"""The ``pagerag`` command line: one subcommand per module in ``pagerag.pipelines.commands``.

Only this layer reads the environment (``PAGERAG_INDEX``, ``QDRANT_URL``, ...); library
code takes everything as arguments. Exit status: 0 all fine, 1 something failed,
2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pagerag.ingest.errors import ConfigError, PageragError

if TYPE_CHECKING:
    from pagerag.pipelines.serve.client import RemoteRAG

# Each module has ``register(subparsers) -> None``, which adds its parser and sets ``func``.
COMMANDS = ("ingest", "library", "search", "ask", "serve", "eval", "models")


def default_index() -> Path:
    """The index directory: ``PAGERAG_INDEX`` or ``./.pagerag``."""
    return Path(os.environ.get("PAGERAG_INDEX", ".pagerag"))


def add_index_option(parser: argparse.ArgumentParser) -> None:
    """The ``--index DIR`` option shared by all commands that open an index."""
    parser.add_argument(
        "--index",
        type=Path,
        default=None,
        help="index directory (default: $PAGERAG_INDEX or ./.pagerag)",
    )


def add_qdrant_option(parser: argparse.ArgumentParser) -> None:
    """The ``--qdrant-url URL`` option shared by all commands that open an index."""
    parser.add_argument(
        "--qdrant-url", default=None, help="Qdrant server URL (default $QDRANT_URL; embedded)"
    )


def add_filter_option(parser: argparse.ArgumentParser) -> None:
    """``--filter KEY=VALUE`` (repeatable), shared by the commands that search."""
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="restrict the search: source=PATH or source=GLOB, doc=HASH, page=N or page=N-M, labels=N (the "
        "number printed on the page), lang=CODE, ocr=0|1, title=TEXT, page_count=N; repeatable",
    )


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--dense/--multi/--sparse MODEL``: the models of a new index (see ``pagerag models``)."""
    for role in ("dense", "multi", "sparse"):
        parser.add_argument(
            f"--{role}",
            default=None,
            metavar="MODEL",
            help=f"{role} model for a new index (see `pagerag models`; default: the offline CPU default)",
        )


def chosen_models(args: argparse.Namespace) -> dict[str, str] | None:
    """The ``--dense/--multi/--sparse`` choices, or None.

    Only the roles named: a new index fills the others with the defaults, an existing one is
    checked against the named roles alone (``--multi X`` on an index built with an older default
    sparse model is not a mismatch).
    """
    picked = {role: getattr(args, role) for role in ("dense", "multi", "sparse") if getattr(args, role, None)}
    return picked or None


def qdrant_url(args: argparse.Namespace) -> str | None:
    """``--qdrant-url``, else ``QDRANT_URL``, else None (the embedded engine)."""
    url: str | None = getattr(args, "qdrant_url", None) or os.environ.get("QDRANT_URL") or None
    return url


def qdrant_api_key() -> str | None:
    """The server's key from ``QDRANT_API_KEY`` (None when unset)."""
    return os.environ.get("QDRANT_API_KEY") or None


def server_for(args: argparse.Namespace) -> RemoteRAG | None:
    """The running ``pagerag serve`` of ``args.index`` to go through, or None (open the index here).

    Raises:
        ConfigError: the server needs an API key and ``PAGERAG_API_KEY`` is not set.
    """
    if qdrant_url(args) is not None:
        return None
    from pagerag.pipelines.serve.record import find_server

    record = find_server(args.index)
    if record is None:
        return None
    key = os.environ.get("PAGERAG_API_KEY") or None
    if record.key_required and not key:
        raise ConfigError(
            f"pagerag serve at {record.url} holds {args.index} and needs a key: set PAGERAG_API_KEY"
        )
    from pagerag.pipelines.serve.client import RemoteRAG

    return RemoteRAG(record.url, api_key=key)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pagerag",
        description="Search and ask questions over folders of PDFs, slide decks and office documents.",
    )
    parser.add_argument("--version", action="version", version=f"pagerag {_version()}")
    parser.add_argument("--verbose", action="store_true", help="debug logs on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"pagerag.pipelines.commands.{name}")
        module.register(sub)
    return parser


def quiet_third_party() -> None:
    """Model libraries' own progress bars and advisories are noise beside pagerag's (user settings win)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Terminated(BaseException):
    """SIGTERM arrived: stop like Ctrl-C does, with its own word and status."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pagerag")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    quiet_third_party()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if getattr(args, "index", "missing") is None:
        args.index = default_index()
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    try:
        code: int = args.func(args)
    except PageragError as exc:
        print(f"pagerag: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pagerag: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("pagerag: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        # The reader went away (`pagerag models --json | head`): end quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
