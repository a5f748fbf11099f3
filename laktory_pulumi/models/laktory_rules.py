"""Laktory v0.0.22 fields whose meaning depends on the pipeline: catalog, schema, table names.

Laktory v0.0.22's `Pipeline` overwrote every table's `catalog_name` and `schema_name` with its
own `catalog` and `target`, and filled a table source's unset ones the same way
(laktory/models/compute/pipeline.py at tag v0.0.22): a pipeline publishes its tables in one
schema. Here a value equal to the pipeline's is accepted; a different one would be silently
ignored, so it fails validation at its line, saying why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .table import Table

Path = tuple[str | int, ...]


def laktory_name_rules(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Tables' and pipeline table sources' `catalog_name` / `schema_name` against the
    pipeline's `catalog` / `target`, and `cdc.ignore_null_updates` against the names it needs,
    each problem with the path of the field to blame."""
    expected = {"catalog_name": pipeline.catalog, "schema_name": pipeline.target}
    pipeline_field = {"catalog_name": "catalog", "schema_name": "target"}
    problems: list[tuple[Path, str]] = []
    for index, table in enumerate(pipeline.tables):
        for field, value in (
            ("catalog_name", table.catalog_name),
            ("schema_name", table.schema_name),
        ):
            if value is not None and value != expected[field]:
                problems.append(
                    (
                        ("tables", index, field),
                        f"{field} '{value}' is not the pipeline's {pipeline_field[field]} "
                        f"({_shown(expected[field])}): a pipeline publishes every table there; "
                        f"set the pipeline's {pipeline_field[field]} or remove {field}",
                    )
                )
        owners = {**expected, "table_name": table.name}
        for position, column in enumerate(table.columns):
            for field, value in (
                ("catalog_name", column.catalog_name),
                ("schema_name", column.schema_name),
                ("table_name", column.table_name),
            ):
                if value is not None and value != owners[field]:
                    owner = pipeline_field.get(field, "table name")
                    problems.append(
                        (
                            ("tables", index, "columns", position, field),
                            f"{field} '{value}' is not the column's {owner} "
                            f"({_shown(owners[field])}): a column lives in its table; remove "
                            f"{field}",
                        )
                    )
        for path, source in table.builder.table_reads:
            if not source.from_pipeline:
                continue
            for field in ("catalog_name", "schema_name"):
                value = getattr(source, field)
                if value is not None and value != expected[field]:
                    problems.append(
                        (
                            ("tables", index, "builder", *path, field),
                            f"{field} '{value}' is not the pipeline's {pipeline_field[field]} "
                            f"({_shown(expected[field])}), where a table of this pipeline "
                            "lives; to read another schema's table set from_pipeline: false",
                        )
                    )
        problems.extend(_ignore_null_updates_rule(table, index))
    return problems


def names_its_columns(table: Table) -> bool:
    """Whether the table's columns are known from its YAML alone: declared `columns` on a layer
    that drops the source's, or `selects`; no aggregation, SQL query or transform."""
    builder = table.builder
    if builder.aggregation is not None or table.transform is not None or table.sql is not None:
        return False
    return builder.selects is not None or (builder.drops_source_columns and bool(table.columns))


def _ignore_null_updates_rule(table: Table, index: int) -> list[tuple[Path, str]]:
    """`cdc.ignore_null_updates` needs the column names: the local change-applier
    (runtime/scd.py) fills each column by name, and a pipeline query function may not ask Spark
    for a frame's columns (ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION)."""
    source = table.builder.table_source
    cdc = source.cdc if source is not None else None
    if cdc is None or not cdc.ignore_null_updates or cdc.columns or names_its_columns(table):
        return []
    return [
        (
            ("tables", index, "builder", "table_source", "cdc", "ignore_null_updates"),
            "ignore_null_updates needs the table's column names: list them in cdc.columns, or "
            "declare the table's columns (a layer that drops the source's) or selects",
        )
    ]


def _shown(value: str | None) -> str:
    return f"'{value}'" if value is not None else "unset"
