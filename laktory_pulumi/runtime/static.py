"""A table of static `data` rows (Laktory v0.0.22's `Table.data`) as a DataFrame.

The rows become one inline array of structs over a one-row range: every value a literal cast
to its column's type, so the plan needs no schema parsing on the client and stays lazy, as SDP
requires inside query functions.

Values are read with YAML 1.2's scalars (`loader.yaml_source`: `NO` stays text) and typed by
their declared column. A text value that does not cast to its column's type (`"1,08"` for a
double) is rescued as other casts are (`runtime.casts`): the value is NULL and its text goes to
`_rescued_data` as `{"column": "text"}`. Only a table holding text for a typed column gets that
column, and only its possibly failing casts pay for the check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from ..models import Table

RESCUED_DATA_COLUMN = "_rescued_data"
_TEXT_TYPES = {"string", "varchar", "char"}


def static_rows(table: Table, spark: SparkSession) -> DataFrame:
    """The table's `data`, one row per list, each value cast to its column's type."""
    from pyspark.sql import functions as F

    if table.data is None:
        raise ValueError(f"table {table.name} has no static data")
    rescuing = any(
        _may_fail(column.type, value)
        for row in table.data
        for column, value in zip(table.columns, row, strict=True)
    )
    rows = [_row(table, row, rescuing) for row in table.data]
    if not rows:
        # An empty table still has its columns.
        empty = [F.lit(None).cast(column.type).alias(column.name) for column in table.columns]
        return spark.range(1).select(*empty).where("false")
    return spark.range(1).select(F.inline(F.array(*rows)))


def _may_fail(kind: str, value: Any) -> bool:
    """Whether casting `value` to `kind` can fail: text for a column of another type."""
    return isinstance(value, str) and kind.split("(")[0].strip().lower() not in _TEXT_TYPES


def _row(table: Table, row: list[Any], rescuing: bool) -> Column:
    from pyspark.sql import functions as F

    values = []
    rescued: list[Column] = []
    for column, value in zip(table.columns, row, strict=True):
        literal = F.lit(value)
        if not _may_fail(column.type, value):
            values.append(literal.cast(column.type).alias(column.name))
            continue
        cast = literal.try_cast(column.type)
        values.append(cast.alias(column.name))
        rescued += [F.lit(column.name), F.when(cast.isNull(), literal)]
    if not rescuing:
        return F.struct(*values)
    # `map_filter` leaves out the values that cast; no failed cast leaves the row NULL.
    failed = F.map_filter(
        F.create_map(*rescued) if rescued else F.create_map().cast("map<string,string>"),
        lambda _, text: text.isNotNull(),
    )
    text = F.when(F.size(failed) > 0, F.to_json(failed)).cast("string")
    return F.struct(*values, text.alias(RESCUED_DATA_COLUMN))
