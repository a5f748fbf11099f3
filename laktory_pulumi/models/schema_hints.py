"""An event source's `schema_hints`: Auto Loader's `cloudFiles.schemaHints`, read as text.

A hint names a column, or a field of a struct column with a dotted path (`data.open`), and
its Spark SQL type: `data.open DOUBLE, data.symbol STRING`. Auto Loader types the hinted
columns as hinted and infers the others; new columns still evolve the schema
(`addNewColumns`, which is "not allowed when the schema of the stream is provided, but does
work if you provide your schema as a schema hint": Databricks docs, "Configure schema inference
and evolution in Auto Loader", https://docs.databricks.com/en/ingestion/cloud-object-storage/
auto-loader/schema.html). Hints are "used only if you do not provide a schema" (same page), so
they never go with `schema_ddl`.

Parsed here without Spark (the models import none), into the struct DDL of the hinted columns:
the schema a read of an empty landing folder has (`runtime.readers`).
"""

from __future__ import annotations

import re

from .spark_types import normalize_spark_type

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_HINT = re.compile(rf"^\s*(?P<path>{_NAME}(?:\.{_NAME})*)\s+(?P<type>\S.*?)\s*$", re.DOTALL)
_CONTAINER_STEPS = frozenset({"element", "key", "value"})


class HintError(ValueError):
    """A hint that cannot be read."""


def split_top_level(text: str) -> list[str]:
    """`text` split at the commas outside `<...>` and `(...)`."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part for part in (p.strip() for p in parts) if part]


def parse_hints(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(path, type) of each hint, in order; raises `HintError` on one that cannot be read."""
    hints: list[tuple[tuple[str, ...], str]] = []
    seen: dict[tuple[str, ...], str] = {}
    for part in split_top_level(text):
        match = _HINT.match(part)
        if match is None:
            raise HintError(
                f"'{part}' is no hint: write a column (or a dotted struct field) and its type, "
                "e.g. 'data.open DOUBLE'"
            )
        path = tuple(match["path"].split("."))
        if len(path) > 1 and _CONTAINER_STEPS & {step.lower() for step in path[1:]}:
            raise HintError(
                f"'{part}': hints inside arrays and maps (element, key, value) are not read "
                "here; hint the whole column's type instead"
            )
        try:
            normalize_spark_type(match["type"])
        except ValueError as error:
            raise HintError(f"'{part}': {error}") from None
        lowered = tuple(step.lower() for step in path)
        clash = next(
            (
                shown
                for other, shown in seen.items()
                if other[: len(lowered)] == lowered or lowered[: len(other)] == other
            ),
            None,
        )
        if clash is not None:
            raise HintError(f"'{part}' hints the same column as '{clash}'")
        seen[lowered] = part
        hints.append((path, match["type"]))
    if not hints:
        raise HintError("no hint: write at least one column and its type")
    return hints


def hinted_ddl(text: str) -> str:
    """The struct DDL of the hinted columns: `data.open DOUBLE, id INT` is
    "`data` STRUCT<`open`: DOUBLE>, `id` INT"."""
    tree: dict[str, object] = {}
    for path, kind in parse_hints(text):
        node = tree
        for step in path[:-1]:
            found = next((key for key in node if key.lower() == step.lower()), step)
            child = node.setdefault(found, {})
            assert isinstance(child, dict)  # parse_hints refuses a field under a typed one
            node = child
        node[path[-1]] = kind

    def render(node: dict[str, object], nested: bool) -> str:
        separator = ": " if nested else " "
        fields = [
            f"`{name}`{separator}"
            + (f"STRUCT<{render(value, True)}>" if isinstance(value, dict) else str(value))
            for name, value in node.items()
        ]
        return ", ".join(fields)

    return render(tree, False)
