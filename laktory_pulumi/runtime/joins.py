"""A table's joins: the rows built so far (`left`) joined with another table (`other`).

Meaning, from Laktory v0.0.22 (`laktory/models/compute/tablejoin.py`): the other table is read
with its own selects, filter and stream or batch read; its rows are deduplicated on the `on`
columns so a join adds no rows to the left; the `on` columns keep the left side's values and
the other side's copies are dropped. When both sides stream, the condition also bounds the
event times: `left.t >= other.t - lower` and, when set, `left.t <= other.t + upper`, `t` being
each side's watermark column (Spark's structured streaming guide: outer stream-stream joins
need watermarks and such a time constraint to ever emit unmatched rows and drop state).

System columns (`_bronze_at`, `_silver_at`, `_silver_star_at`, `_gold_at`, `_tstamp`,
`_rescued_data`, `_source_file`): the left side's are kept and the other side's are dropped, so a
joined row has one of each, telling when and from which file its own row arrived (docs/joins.md).
Which of them the other side has is not known without analysis, so it is given all of them
(null) before the join, except those the join condition reads, which it must have.

A declared `on` column whose cast fails (`'x'` declared `long`) is NULL, so it matches
nothing: a left, full or anti join keeps its row anyway, and the other kinds (inner, right,
semi), which drop a row matching nothing, would lose it. Bad data never vanishes, so such rows
bypass those joins: they join nothing and are added back to the joined rows (the other side's
columns NULL), where the projection rescues their raw key into `_rescued_data` and a
quarantined table's `cast:<column>` rule sends them to its quarantine. The split is planned
only for such a join on a key whose cast can fail; other tables' plans are as they were.

Everything is one lazy plan: the join, then a `selectExpr` with `left.*` and `other.* EXCEPT
(...)`. `drop` and `withColumnsRenamed` would make Spark Connect analyse the inputs when an SDP
flow is defined (docs/sdp.md), and the columns of either side are not known without analysis.
Where analysis is allowed (Databricks, `validate --deep` and every local run's pre-flight), the
joined frame's columns are checked: two columns of one name fail at the join
(`DuplicateColumnsError`), never at the table's write.
"""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING

from .analysis import analysis_allowed, is_refused_analysis
from .readers import RESCUED_DATA_COLUMN, SOURCE_FILE_COLUMN, read_table_source

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pyspark.sql import Column, DataFrame, SparkSession

    from ..models import Table
    from ..models.joins import TableJoin

LEFT, OTHER = "left", "other"
DROPS_UNMATCHED_LEFT = {
    "inner", "right", "right_outer", "rightouter", "left_semi", "leftsemi", "semi"
}  # fmt: skip
"""Join kinds that drop a left row matching nothing, as they drop one whose key is NULL."""
_KEY_FIRST = {"right", "right_outer", "rightouter", "full", "outer", "full_outer", "fullouter"}
SYSTEM_COLUMNS = (
    "_bronze_at",
    "_silver_at",
    "_silver_star_at",
    "_gold_at",
    "_tstamp",
    RESCUED_DATA_COLUMN,
    SOURCE_FILE_COLUMN,
)
"""Columns the layers add to a row; of a joined row, the left side's are kept."""


class DuplicateColumnsError(ValueError):
    """A frame about to become a table has two columns of one name (Spark compares names
    case-insensitively); `path` is the field at fault, under the table."""

    def __init__(self, table: str, names: list[str], path: tuple[str | int, ...], what: str):
        self.table, self.names, self.path = table, names, path
        listed = ", ".join(names)
        super().__init__(
            f"table {table}: {what} gives two columns named {listed}; a table cannot hold "
            "both: rename or drop one (a join's other.selects renames or picks the other "
            "side's columns)"
        )


def assert_unique_columns(
    table: Table, frame: DataFrame, path: tuple[str | int, ...], what: str
) -> None:
    """Raise `DuplicateColumnsError` when `frame` has two columns of one name.

    Only where Spark may analyse (not inside a local SDP query function, whose pre-flight has
    already run this check on the same code).
    """
    if not analysis_allowed():
        return
    try:
        columns = frame.columns
    except Exception as error:  # classic and Connect raise different exception types
        if is_refused_analysis(error):
            return
        raise
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    for name in columns:
        key = name.lower()
        if key in seen and seen[key] not in duplicates:
            duplicates.append(seen[key])
        seen.setdefault(key, name)
    if duplicates:
        raise DuplicateColumnsError(table.name, duplicates, path, what)


def assert_unique_output(table: Table, frame: DataFrame) -> None:
    """`assert_unique_columns` on what a table writes, blaming the step that names its columns
    last: the SQL query, the builder's `selects`, the transform, else the builder."""
    builder = table.builder
    if table.sql is not None:
        path: tuple[str | int, ...] = ("sql",)
    elif builder.selects is not None:
        path = ("builder", "selects")
    elif table.transform is not None:
        path = ("transform",)
    else:
        path = ("builder",)
    assert_unique_columns(table, frame, path, "its output")


def apply_joins(
    table: Table,
    joins: list[TableJoin],
    df: DataFrame,
    field: str = "joins",
    *,
    raw_keys: Mapping[str, Column] | None = None,
) -> DataFrame:
    """`df` joined with each of `joins` (the builder's `field`) in turn; `raw_keys` holds the
    value before its cast of each declared key column whose cast may fail."""
    for index, join in enumerate(joins):
        df = apply_join(table, join, df, raw_keys or {})
        assert_unique_columns(
            table, df, ("builder", field, index), f"its {field}[{index}] with {join.other.name}"
        )
    return df


def apply_join(
    table: Table, join: TableJoin, left: DataFrame, raw_keys: Mapping[str, Column] | None = None
) -> DataFrame:
    """`left` joined with `join.other` (see the module's docstring for the meaning)."""
    from pyspark.sql import functions as F

    spark = _session(left)
    failed_key = _failed_key_cast(join, raw_keys or {})
    unjoined = None
    if failed_key is not None:
        # Rows whose key failed its cast bypass a join that would drop them (module docstring).
        unjoined, left = left.where(failed_key), left.where(~failed_key)
    other = read_table_source(join.other, spark)
    stream_stream = join.other.read_as_stream and table.builder.reads_stream
    if join.on:
        if stream_stream:
            other = other.dropDuplicatesWithinWatermark(join.on)
        else:
            other = other.dropDuplicates(join.on)
    condition = join_condition(table, join, stream_stream)
    if not join.keeps_left_only:
        other = with_every_system_column(other, referenced_columns(join, stream_stream))
    joined = left.alias(LEFT).join(
        other.alias(OTHER), on=F.expr(condition) if condition else None, how=join.how
    )
    output = joined.selectExpr(*output_columns(join, SYSTEM_COLUMNS))
    if unjoined is None:
        return output
    return output.unionByName(unjoined, allowMissingColumns=True)


def _failed_key_cast(join: TableJoin, raw_keys: Mapping[str, Column]) -> Column | None:
    """True on a row whose `on` key failed its cast, where the join would drop that row (None
    when it would not, or when no key's cast can fail)."""
    keys = [key for key in join.on if key in raw_keys]
    if not keys or join.how not in DROPS_UNMATCHED_LEFT:
        return None
    from pyspark.sql import functions as F

    failed = [raw_keys[key].isNotNull() & F.col(key).isNull() for key in keys]
    return functools.reduce(operator.or_, failed)


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


def output_columns(join: TableJoin, other_system: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The joined row's columns, as `selectExpr` expressions; `other_system` are the other
    side's system columns, which are dropped."""
    if join.keeps_left_only:
        return [f"{LEFT}.*"]
    dropped = list(dict.fromkeys([*join.on, *other_system]))
    other = f"{OTHER}.*"
    if dropped:
        other += f" EXCEPT ({', '.join(_quoted(name) for name in dropped)})"
    if join.on and join.how in _KEY_FIRST:
        # Rows only the other side has: their keys come from the other side.
        keys = ", ".join(_quoted(key) for key in join.on)
        coalesced = [
            f"coalesce({LEFT}.{_quoted(key)}, {OTHER}.{_quoted(key)}) AS {_quoted(key)}"
            for key in join.on
        ]
        return [*coalesced, f"{LEFT}.* EXCEPT ({keys})", other]
    return [f"{LEFT}.*", other]


def referenced_columns(join: TableJoin, stream_stream: bool) -> set[str]:
    """System columns the join condition may read on the other side: its keys, watermark, and
    any named in `on_expression` (by their text: a name there is read)."""
    names = set(join.on)
    if stream_stream and join.other.watermark is not None:
        names.add(join.other.watermark.column)
    text = join.on_expression or ""
    names.update(name for name in SYSTEM_COLUMNS if name in text)
    return names


def with_every_system_column(other: DataFrame, keep: set[str]) -> DataFrame:
    """`other` with each system column, null where the condition does not read it, so that
    `other.* EXCEPT (system columns)` is valid whichever the other side has (knowing which it
    has would take an analysis). Columns the condition reads (`keep`) are left as they are."""
    from pyspark.sql import functions as F

    placeholders = {name: F.lit(None).cast("string") for name in SYSTEM_COLUMNS if name not in keep}
    return other.withColumns(placeholders) if placeholders else other


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _session(frame: DataFrame) -> SparkSession:
    from . import dlt

    return dlt.spark or frame.sparkSession
