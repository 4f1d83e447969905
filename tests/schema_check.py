"""Checks JSON against docs/schema/pagerag.schema.json (used by the CLI and HTTP API tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "schema" / "pagerag.schema.json").read_text())


def conforms(data: Any, shape: str) -> None:
    """Fail with the first schema error when ``data`` is not a ``$defs/shape``."""
    registry = Registry().with_resource(SCHEMA["$id"], Resource.from_contents(SCHEMA))
    validator = Draft202012Validator({"$ref": f"{SCHEMA['$id']}#/$defs/{shape}"}, registry=registry)
    errors = sorted(validator.iter_errors(data), key=str)
    assert not errors, f"{shape}: {errors[0].message} at {list(errors[0].absolute_path)}"
