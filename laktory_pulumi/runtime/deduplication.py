"""Deduplication after the expectations, so that expectations and quarantine see every row.

`process` used to drop duplicates before the backends applied the table's expectations: rows
failing a rule were merged first (NULL keys too), so 8 failing rows could count, and quarantine,
as 3. The `dlt.expectations(table)` decorator now defers the table's deduplication and runs it as
a second step on the rows the expectations kept:

- eager and SDP backends apply the rules themselves; the decorator records `deduplicate` on the
  query function (`finishing_step`) and the backend runs it after the rules;
- Databricks applies native expectations to a query's result, so the checked rows become a view
  (`<table>_expected`) carrying the expectations and the table deduplicates that view.

The key is taken by its output name (through a renaming `selects`); a table whose `selects`
drops a key column keeps deduplicating inside `process`, before its expectations.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ..models import Table

_deferred: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "deduplication_deferred", default=frozenset()
)
_FINISH_ATTRIBUTE = "__laktory_finishing_step__"


def output_key(table: Table) -> list[str] | None:
    """The primary key by the names of the table's output, None when `selects` drops a part."""
    key = table.primary_key or []
    selects = table.builder.selects
    if selects is None:
        return list(key)
    if isinstance(selects, dict):
        renamed = [selects.get(name) for name in key]
        return None if None in renamed else [name for name in renamed if name is not None]
    return list(key) if all(name in selects for name in key) else None


def defers_deduplication(table: Table) -> bool:
    """Whether the table deduplicates, on its output names, after its expectations."""
    return bool(table.builder.drop_duplicates and table.primary_key and output_key(table))


def deduplication_deferred(table: Table) -> bool:
    """Whether `process` leaves the deduplication of `table` to a step after the rules."""
    return table.name in _deferred.get()


@contextmanager
def deferring_deduplication(table: Table) -> Iterator[None]:
    """`process(table, ...)` inside skips the deduplication: a later step does it."""
    token = _deferred.set(_deferred.get() | {table.name})
    try:
        yield
    finally:
        _deferred.reset(token)


def deduplicate(table: Table, frame: DataFrame) -> DataFrame:
    """The step after the expectations: rows unique on the key's output names."""
    return drop_duplicates_on(table, frame, output_key(table) or [])


def drop_duplicates_on(table: Table, frame: DataFrame, key: list[str]) -> DataFrame:
    """Rows unique on `key`; bounded by the watermark on a watermarked stream.

    A batch read is first hash-partitioned on the key. `dropDuplicates` keeps the first row of
    each key with an aggregation, a sort aggregation since the kept values include text; alone
    it sorts every row twice, before its exchange (the partial aggregation) and after. With
    the rows already partitioned on the key there is no exchange to aggregate before: one
    shuffle and one sort, a third less CPU in the silver step of `bench/bench_throughput.py`. Same
    rows kept (the first of each key), same plan on a stream, whose state needs its own.

    That sort is on the key's columns in the key's order, and Spark sorts on a prefix of the
    first column (8 bytes) before comparing whole rows: a text first (`[symbol, created_at]`,
    a few symbols) ties on nearly every comparison, a timestamp first hardly ever. So a batch
    sorts on the key's fixed-width columns first (`sort_friendly_key`): the same groups, and
    about 1 s less CPU in that silver step (10.4 s to 9.4 s). A stream keeps the key's order,
    which its deduplication state is keyed on.
    """
    source = table.builder.table_source
    if source is not None and source.watermark is not None and source.read_as_stream:
        return frame.dropDuplicatesWithinWatermark(key)
    if key and reads_batch(table):
        key = sort_friendly_key(table, key)
        frame = frame.repartition(*key)
    return frame.dropDuplicates(key)


FIXED_WIDTH_TYPES = frozenset(
    {"boolean", "tinyint", "byte", "smallint", "short", "int", "integer", "bigint", "long",
     "float", "real", "double", "date", "timestamp", "timestamp_ntz", "timestamp_ltz"}
)  # fmt: skip
"""Declared types whose whole value is Spark's 8-byte sort prefix: a sort on one first rarely
compares whole rows."""


def sort_friendly_key(table: Table, key: list[str]) -> list[str]:
    """`key` with the columns of a fixed-width declared type first, each part's order kept.

    From the model alone (SDP refuses analysis inside query functions): a declared column's
    type, by its name or by the name a `selects` mapping gives it. A column of unknown type
    stays in the second part; any order groups the same rows, so a guess costs time at most.
    """
    types = {column.name: column.type.strip().lower() for column in table.columns}
    selects = table.builder.selects
    if isinstance(selects, dict):
        renamed = {new: types[old] for old, new in selects.items() if old in types}
        types = {**renamed, **types}
    fixed = [name for name in key if types.get(name) in FIXED_WIDTH_TYPES]
    return [*fixed, *(name for name in key if name not in fixed)]


def reads_batch(table: Table) -> bool:
    """Whether the table's rows are a batch read, from the model alone (SDP refuses analysis
    inside query functions): none of its sources or joined tables is read as a stream."""
    builder = table.builder
    reads = [*builder.sources, *(join.other for join in builder.all_joins)]
    return not any(source.read_as_stream for source in reads)


def deferred_query(table: Table, function: Callable[[], DataFrame]) -> Callable[[], DataFrame]:
    """`function` running with the table's deduplication deferred."""

    def query() -> DataFrame:
        with deferring_deduplication(table):
            return function()

    query.__name__ = getattr(function, "__name__", "query")
    return query


def with_finishing_step(
    function: Callable[[], DataFrame], step: Callable[[DataFrame], DataFrame]
) -> Callable[[], DataFrame]:
    """Record `step` on a query function, for the backend to run after the expectations."""
    setattr(function, _FINISH_ATTRIBUTE, step)
    return function


def finishing_step(function: Any) -> Callable[[DataFrame], DataFrame] | None:
    """The step a backend runs on a query's result after its expectations, if any."""
    return getattr(function, _FINISH_ATTRIBUTE, None)
