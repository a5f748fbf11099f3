"""The YAML reference, generated from the models: `python -m laktory_pulumi.docs`.

One section per model reachable from a pipeline file (then from a cluster file), in the order a
reader meets them; each lists its fields with their type, default and description. The result is
committed as docs/reference.md, and a test fails when it is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .models import Cluster, Model, Pipeline
from .models.spark_types import check_spark_type

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "reference.md"
REGENERATE = "python -m laktory_pulumi.docs"

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean", Any: "any"}

_HEADER = f"""# YAML reference

<!-- Generated from laktory_pulumi/models by `{REGENERATE}`; do not edit by hand. -->

Every key of a pipeline file (`stacks/pipelines/*.yaml`) and of a cluster file
(`stacks/clusters/*.yaml`). Unknown keys are errors. Enum values may be written in any case
(`bronze` reads as `BRONZE`). Any value may be a variable: `${{vars.NAME}}` from the stack's
`Pulumi.<stack>.yaml`, `${{env.NAME}}` from the environment; a value that is only a variable
keeps the variable's type.

Rules across fields: table names, cluster names and permission principals are unique; a
`table_source` inside the pipeline names a declared table, and tables read no cycle;
`timestamp_key` and `primary_key` name declared columns when columns are declared; expectations
need edition ADVANCED, CDC needs PRO or ADVANCED; `storage` excludes `catalog`, and a serverless
pipeline takes no clusters.
"""


def documented_models() -> list[type[BaseModel]]:
    """The models of a pipeline file, then those of a cluster file, depth first in field order."""
    order: dict[type[BaseModel], None] = {}

    def visit(model: type[BaseModel]) -> None:
        if model in order:
            return
        order[model] = None
        for field in model.model_fields.values():
            for nested in _models_in(field.annotation):
                visit(nested)

    visit(Pipeline)
    visit(Cluster)
    return list(order)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def type_text(annotation: Any) -> str:
    """A reader's name for a field's type, with links to the sections of nested models."""
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{_anchor(annotation)})"
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in args)
    if origin in (Union, types.UnionType):
        kept = [arg for arg in args if arg is not type(None)]
        return " or ".join(dict.fromkeys(type_text(arg) for arg in kept))
    if origin is list:
        item = type_text(args[0])
        return f"list, each {item}" if item.startswith("one of ") else f"list of {item}"
    if origin is dict:
        return f"mapping of {type_text(args[0])} to {type_text(args[1])}"
    if hasattr(annotation, "__metadata__"):  # Annotated: the type underneath
        return type_text(args[0])
    return str(annotation)


def field_type_text(field: FieldInfo) -> str:
    """The type of a field, with its constraints (bounds, lengths, pattern)."""
    # Pydantic moves a field's own Annotated metadata (validators, bounds) into `metadata`.
    if any(getattr(item, "func", None) is check_spark_type for item in field.metadata):
        text = "Spark SQL type"
    else:
        text = type_text(field.annotation)
    found = []
    for item in field.metadata:
        for name, words in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, name, None) is not None:
                found.append(f"{words} {getattr(item, name)}")
        if getattr(item, "min_length", None):
            found.append("non-empty" if item.min_length == 1 else f"at least {item.min_length}")
        if getattr(item, "max_length", None) is not None:
            found.append(f"at most {item.max_length}")
        if getattr(item, "pattern", None) is not None:
            found.append(f"matches `{item.pattern}`")
    return f"{text} ({', '.join(found)})" if found else text


def default_text(field: FieldInfo) -> str:
    """`required`, or the default as it would be written in YAML."""
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined or value is None:
        return "—"
    if isinstance(value, str):
        return f"`{value}`"
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def model_section(model: type[BaseModel]) -> str:
    """The section of one model: its docstring and a table of its fields."""
    # Shared bases (ClusterSpec, Principal, ColumnExpression) have no section: their text joins.
    bases = [
        base
        for base in model.__mro__
        if issubclass(base, BaseModel) and base not in (BaseModel, Model) and base.__doc__
    ]
    doc = " ".join(" ".join(base.__doc__.split()) for base in bases)
    lines = [f"## {model.__name__}", "", doc, "", "| field | type | default | description |"]
    lines.append("| --- | --- | --- | --- |")
    for name, field in model.model_fields.items():
        row = (f"`{name}`", field_type_text(field), default_text(field), field.description or "")
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """The whole of docs/reference.md."""
    models = documented_models()
    contents = ["## Contents", ""]
    contents += [f"- [{model.__name__}](#{_anchor(model)})" for model in models]
    sections = [_HEADER, "\n".join(contents) + "\n", *(model_section(model) for model in models)]
    return "\n".join(sections)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m laktory_pulumi.docs", description="write the YAML reference"
    )
    parser.add_argument("--output", type=Path, default=REFERENCE, help="file to write")
    parser.add_argument(
        "--check", action="store_true", help="only check that the file is up to date (exit 1)"
    )
    args = parser.parse_args(argv)
    text = reference_markdown()
    if args.check:
        current = args.output.read_text() if args.output.exists() else None
        if current != text:
            print(f"{args.output} is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
