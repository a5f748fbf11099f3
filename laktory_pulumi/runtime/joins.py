"""A table's joins: the rows built so far (`left`) joined with another table (`other`).

Meaning, from Laktory v0.0.22 (`laktory/models/compute/tablejoin.py`): the other table is read
with its own selects, filter and stream or batch read; its rows are deduplicated on the `on`
columns so a join adds no rows to the left; the `on` columns keep the left side's values and
the other side's copies are dropped. When both sides stream, the condition also bounds the
event times: `left.t >= other.t - lower` and, when set, `left.t <= other.t + upper`, `t` being
each side's watermark column (Spark's structured streaming guide: outer stream-stream joins
need watermarks and such a time constraint to ever emit unmatched rows and drop state).

Everything is one lazy plan: the join, then a `selectExpr` with `left.*` and `other.* EXCEPT
(...)`. `drop` and `withColumnsRenamed` would make Spark Connect analyse the inputs when an SDP
flow is defined (docs/sdp.md), and the columns of either side are not known without analysis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .readers import read_table_source

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models import Table
    from ..models.joins import TableJoin

LEFT, OTHER = "left", "other"
_KEY_FIRST = {"right", "right_outer", "rightouter", "full", "outer", "full_outer", "fullouter"}


def apply_joins(table: Table, joins: list[TableJoin], df: DataFrame) -> DataFrame:
    """`df` joined with each of `joins` in turn."""
    for join in joins:
        df = apply_join(table, join, df)
    return df


def apply_join(table: Table, join: TableJoin, left: DataFrame) -> DataFrame:
    """`left` joined with `join.other` (see the module's docstring for the meaning)."""
    from pyspark.sql import functions as F

    spark = _session(left)
    other = read_table_source(join.other, spark)
    stream_stream = join.other.read_as_stream and table.builder.reads_stream
    if join.on:
        if stream_stream:
            other = other.dropDuplicatesWithinWatermark(join.on)
        else:
            other = other.dropDuplicates(join.on)
    condition = join_condition(table, join, stream_stream)
    joined = left.alias(LEFT).join(
        other.alias(OTHER), on=F.expr(condition) if condition else None, how=join.how
    )
    return joined.selectExpr(*output_columns(join))


def join_condition(table: Table, join: TableJoin, stream_stream: bool) -> str | None:
    """The SQL join condition, sides named `left` and `other`."""
    parts = [f"{LEFT}.{_quoted(key)} = {OTHER}.{_quoted(key)}" for key in join.on]
    if join.on_expression:
        parts.append(f"({join.on_expression})")
    if stream_stream:
        left_mark = table.builder.table_source.watermark  # type: ignore[union-attr]
        other_mark = join.other.watermark
        assert left_mark is not None and other_mark is not None  # the pipeline checks both
        left_time = f"{LEFT}.{_quoted(left_mark.column)}"
        other_time = f"{OTHER}.{_quoted(other_mark.column)}"
        parts.append(f"{left_time} >= {other_time} - INTERVAL {join.lower_bound}")
        if join.time_constraint_interval_upper:
            parts.append(
                f"{left_time} <= {other_time} + INTERVAL {join.time_constraint_interval_upper}"
            )
    return " AND ".join(parts) or None


def output_columns(join: TableJoin) -> list[str]:
    """The joined row's columns, as `selectExpr` expressions."""
    if join.keeps_left_only:
        return [f"{LEFT}.*"]
    if not join.on:
        return [f"{LEFT}.*", f"{OTHER}.*"]
    keys = ", ".join(_quoted(key) for key in join.on)
    other = f"{OTHER}.* EXCEPT ({keys})"
    if join.how in _KEY_FIRST:
        # Rows only the other side has: their keys come from the other side.
        coalesced = [
            f"coalesce({LEFT}.{_quoted(key)}, {OTHER}.{_quoted(key)}) AS {_quoted(key)}"
            for key in join.on
        ]
        return [*coalesced, f"{LEFT}.* EXCEPT ({keys})", other]
    return [f"{LEFT}.*", other]


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _session(frame: DataFrame) -> SparkSession:
    from . import dlt

    return dlt.spark or frame.sparkSession
