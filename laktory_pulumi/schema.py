"""JSON Schema of the YAML files, generated from the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .models import Cluster, Pipeline

SCHEMA_DIR = Path(__file__).parent / "schema"
VARIABLE_PATTERN = r"^\$\{\s*(vars|env)\.[A-Za-z_][A-Za-z0-9_.-]*\s*\}$"


def _allow_variables(node: Any) -> Any:
    """Let a `${vars.X}` string stand wherever a number or a boolean is expected."""
    if isinstance(node, dict):
        node = {key: _allow_variables(value) for key, value in node.items()}
        if node.get("type") in ("integer", "number", "boolean"):
            typed = {
                key: node.pop(key)
                for key in list(node)
                if key not in ("title", "description", "default")
            }
            node["anyOf"] = [typed, {"type": "string", "pattern": VARIABLE_PATTERN}]
        return node
    if isinstance(node, list):
        return [_allow_variables(item) for item in node]
    return node


def json_schema(kind: str = "pipeline") -> dict[str, Any]:
    """The JSON Schema of a pipeline (or cluster) file."""
    model = {"pipeline": Pipeline, "cluster": Cluster}[kind]
    schema = _allow_variables(model.model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def schema_text(kind: str = "pipeline") -> str:
    """The schema as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(json_schema(kind), indent=2, sort_keys=True) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Regenerate the committed schema files."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in ("pipeline", "cluster"):
        path = directory / f"{kind}.schema.json"
        path.write_text(schema_text(kind))
        written.append(path)
    return written
