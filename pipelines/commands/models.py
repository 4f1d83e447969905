"""`pagerag models`: the embedding models pagerag knows, their vectors and what they need."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from pagerag.retriever.embedders.registry import DEFAULT_MODELS, available


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "models",
        help="list the embedding models (defaults and full-size adapters)",
        description="List the embedding models for --dense/--multi/--sparse. Name one as NAME or "
        "NAME:ID-OR-PATH (e.g. jina-v4:/models/jina-embeddings-v4, st:intfloat/multilingual-e5-base).",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    models = available()
    if args.json:
        rows = [{**asdict(m), "default_for": _default_for(m.name)} for m in models]
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="pagerag embedding models", title_justify="left")
    for column in ("name", "gives", "dims", "default for", "needs", "description"):
        table.add_column(column, overflow="fold")
    for m in models:
        dims = ", ".join(f"{role} {d}" if d else f"{role} (from model)" for role, d in m.dims.items()) or "-"
        cells = (m.name, m.kind, dims, ", ".join(_default_for(m.name)) or "-", m.needs or "nothing (offline)")
        table.add_row(*(escape(c) for c in (*cells, m.description)))
    Console(width=160).print(table)
    return 0


def _default_for(name: str) -> list[str]:
    return [role for role, model in DEFAULT_MODELS.items() if model == name]
