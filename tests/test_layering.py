"""Imports flow one way: pipelines -> retriever -> ingest; no bare top-level names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"ingest": 0, "retriever": 1, "pipelines": 2}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_imports_flow_one_way(layer: str) -> None:
    bad = []
    for path in (ROOT / layer).rglob("*.py"):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] in LAYERS:
                bad.append(f"{path.relative_to(ROOT)} imports bare {name}")
            if parts[0] == "pagerag" and len(parts) > 1 and LAYERS[parts[1]] > LAYERS[layer]:
                bad.append(f"{path.relative_to(ROOT)} imports upward: {name}")
    assert not bad, "\n".join(bad)


def test_cli_help_runs_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None; "
        "from pagerag.pipelines.cli import main; "
        "sys.argv = ['pagerag', '--help']; main()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "ingest" in out.stdout and "search" in out.stdout


def test_no_top_level_modules_installed() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('retriever'))"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert out.stdout.strip() == "None"
