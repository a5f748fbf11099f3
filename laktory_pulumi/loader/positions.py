"""Where each table, column and expectation is declared, written into the models.

The loader knows every mapping's line; the models carry it as `defined_at` (`file:line:column`)
into the metadata file, so that a failure at run time, on Databricks or on SDP, can name the
line of YAML at fault (as `pyspark.pipelines` keeps each dataset's source code location).
"""

from __future__ import annotations

from typing import Any

from ..models.base import format_path
from .errors import LocatedError
from .yaml_source import Path, YamlSource

DEFINED_AT = "defined_at"
"""The field of `Table`, `Column` and `Expectation` the loader sets."""

_ELEMENTS = ("columns", "expectations")


def stamp_definitions(source: YamlSource) -> list[LocatedError]:
    """Set `defined_at` on every table, column and expectation mapping of `source.data`.

    Returns an error for each `defined_at` written in the file: only the loader sets it.
    """
    errors: list[LocatedError] = []
    data = source.data
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, list):
        return errors
    for index, table in enumerate(tables):
        path: Path = ("tables", index)
        _stamp(source, table, path, errors)
        if not isinstance(table, dict):
            continue
        for kind in _ELEMENTS:
            elements = table.get(kind)
            if isinstance(elements, list):
                for position, element in enumerate(elements):
                    _stamp(source, element, (*path, kind, position), errors)
    return errors


def _stamp(source: YamlSource, element: Any, path: Path, errors: list[LocatedError]) -> None:
    if not isinstance(element, dict):
        return
    if DEFINED_AT in element:
        errors.append(
            source.error(
                (*path, DEFINED_AT),
                format_path((*path, DEFINED_AT)),
                "defined_at is set by the loader (the line of this mapping); remove it",
                key=True,
            )
        )
        return
    line, column = source.mark_of(path)
    element[DEFINED_AT] = f"{source.file}:{line}:{column}"
