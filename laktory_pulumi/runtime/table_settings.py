"""A table's settings as the keyword arguments of `dlt.table` / `dlt.create_streaming_table`.

Databricks gets them all, as its `dlt` module takes them: `table_properties`, `partition_cols`,
`cluster_by`, `path` and `temporary` (a private table) are parameters of `databricks-dlt`'s
stub (0.2.x); `cluster_by_auto` and `row_filter` are parameters of the current DLT runtime
(docs.databricks.com/aws/dlt-ref/dlt-python-ref-table and .../dlt-python-ref-streaming-table),
passed only when set so that a table without them binds to either. The current runtime names
`temporary` `private`: the keyword the backend's `table` takes is used (`private_keyword`).
Neither function takes tags, so a table has none. Column masks go in the table's `schema` DDL,
where DLT takes them (Databricks docs, "Publish tables with row filters and column masks"); the
model only lets a mask on a table whose columns are its declared, typed ones, so the DDL lists
every column.

A local run (SDP) and the eager debug mode get what Spark applies: `table_properties`,
`partition_cols` and `temporary`. Clustering, row filters and masks exist only in Databricks;
the local run says so once (`models.table_settings.databricks_only_settings`).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from .builders import _system_columns

if TYPE_CHECKING:
    from ..models import Table

LOCAL_SETTINGS = ("table_properties", "partition_cols", "temporary")
"""What Spark Declarative Pipelines applies itself."""

_SYSTEM_TYPES = {"_rescued_data": "string", "_source_file": "string"}
"""Types of the system columns that are not timestamps (`runtime/builders.py`)."""


def table_arguments(table: Table, backend: str, *, streaming_table: bool = False) -> dict[str, Any]:
    """The keyword arguments `table`'s settings add to its `dlt.table` call (or, with
    `streaming_table`, to `dlt.create_streaming_table`, which has no `temporary`)."""
    arguments: dict[str, Any] = {}
    if table.table_properties:
        arguments["table_properties"] = dict(table.table_properties)
    if table.partition_cols:
        arguments["partition_cols"] = list(table.partition_cols)
    if table.private and not streaming_table:
        arguments["temporary"] = True
    if backend != "databricks":
        return arguments
    if table.cluster_by:
        arguments["cluster_by"] = list(table.cluster_by)
    if table.cluster_by_auto:
        arguments["cluster_by_auto"] = True
    if table.path is not None:
        arguments["path"] = table.path
    if table.row_filter is not None:
        arguments["row_filter"] = table.row_filter.clause
    schema = masked_schema(table)
    if schema is not None:
        arguments["schema"] = schema
    return arguments


def private_keyword(arguments: dict[str, Any], table_function: Any) -> dict[str, Any]:
    """`temporary=True` as `private=True` when the backend's `table` takes `private` (the
    current DLT runtime), as it is for `databricks-dlt` 0.2.x and our own backends."""
    if "temporary" not in arguments:
        return arguments
    try:
        parameters = inspect.signature(table_function).parameters
    except (TypeError, ValueError):
        return arguments
    if "private" in parameters and "temporary" not in parameters:
        renamed = {key: value for key, value in arguments.items() if key != "temporary"}
        return {**renamed, "private": arguments["temporary"]}
    return arguments


def masked_schema(table: Table) -> str | None:
    """The table's schema DDL with its columns' masks, or None when no column is masked."""
    if not any(column.mask is not None for column in table.columns):
        return None
    lines = []
    for column in table.columns:
        line = f"{_quoted(column.name)} {column.type.strip()}"
        if column.comment:
            line += " COMMENT '" + column.comment.replace("\\", "\\\\").replace("'", "\\'") + "'"
        if column.mask is not None:
            line += " " + column.mask.clause
        lines.append(line)
    declared = {column.name for column in table.columns}
    for name in _system_columns(table):
        if name not in declared:
            lines.append(f"{_quoted(name)} {_SYSTEM_TYPES.get(name, 'timestamp')}")
    return ",\n".join(lines)


def _quoted(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"
