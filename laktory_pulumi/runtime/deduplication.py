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
    """
    source = table.builder.table_source
    if source is not None and source.watermark is not None and source.read_as_stream:
        return frame.dropDuplicatesWithinWatermark(key)
    if key and reads_batch(table):
        frame = frame.repartition(*key)
    return frame.dropDuplicates(key)


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
