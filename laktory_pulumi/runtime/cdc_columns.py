"""The column names `ignore_null_updates` fills, for a CDC table whose YAML names its columns.

DLT's `ignore_null_updates` keeps every column's previous value where an update brings null.
The local change-applier (`runtime/scd.py`) must name each column to do that, and a pipeline
query function may not ask Spark for a frame's columns. So a table without `cdc.columns` passes
DLT's `ignore_null_updates_column_list` instead (databricks-dlt's `apply_changes` takes it;
https://learn.microsoft.com/azure/databricks/ldp/developer/ldp-python-ref-apply-changes): every
non-key column the table's processing returns, which on Databricks means the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .builders import _system_columns

if TYPE_CHECKING:
    from ..models import Table


def filled_columns(table: Table) -> list[str]:
    """The non-key columns of the change feed `built(table)` returns: declared (or selected)
    columns and the layer's system columns, less `drop_columns` and the primary keys.

    Only for tables whose YAML names their columns (`models.laktory_rules.names_its_columns`,
    which validation checks before).
    """
    builder = table.builder
    source = builder.table_source
    if source is None or source.cdc is None:
        raise ValueError(f"table {table.name} has no table_source.cdc")
    if isinstance(builder.selects, dict):
        declared = list(builder.selects.values())
    elif builder.selects is not None:
        declared = list(builder.selects)
    else:
        declared = [column.name for column in table.columns]
    names = [*declared, *_system_columns(table)]
    dropped = {*builder.drop_columns, *source.cdc.primary_keys, *source.cdc.except_columns}
    return [name for name in dict.fromkeys(names) if name not in dropped]
