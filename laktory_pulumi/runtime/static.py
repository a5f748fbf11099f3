"""A table of static `data` rows (Laktory v0.0.22's `Table.data`) as a DataFrame.

The rows become one inline array of structs over a one-row range: every value a literal cast
to its column's type, so the plan needs no schema parsing on the client and stays lazy, as SDP
requires inside query functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models import Table


def static_rows(table: Table, spark: SparkSession) -> DataFrame:
    """The table's `data`, one row per list, each value cast to its column's type."""
    from pyspark.sql import functions as F

    if table.data is None:
        raise ValueError(f"table {table.name} has no static data")
    rows = [
        F.struct(
            *(
                F.lit(value).cast(column.type).alias(column.name)
                for column, value in zip(table.columns, row, strict=True)
            )
        )
        for row in table.data
    ]
    if not rows:
        # An empty table still has its columns.
        empty = [F.lit(None).cast(column.type).alias(column.name) for column in table.columns]
        return spark.range(1).select(*empty).where("false")
    return spark.range(1).select(F.inline(F.array(*rows)))
