"""A table fed by several sources: one append flow per source into one streaming table.

DLT's pattern for many sources into one table is `dlt.create_streaming_table` followed by one
`@dlt.append_flow(target=...)` per source (Databricks docs, "Load and process data
incrementally with DLT flows"); SDP has the same two calls (`pyspark.pipelines.api`). Each flow
is a streaming query with its own checkpoint, named from the source's stable key
(`TableBuilder.flow_name`), so adding a source later starts one new flow and leaves the others
where they were. The table's expectations are declared on the streaming table, where DLT takes
them (`create_streaming_table(expect_all=..., expect_all_or_drop=..., expect_all_or_fail=...)`).
In the eager debug mode the flows' rows are the union of the sources. Locally on SDP each flow
writes a table of its own, and the target is their union (see `SdpBackend.append_flow`: a local
streaming table takes one writer only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import dlt
from .builders import process
from .expectations import by_action, rules_of
from .readers import read_listed
from .table_settings import table_arguments

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models import Table
    from ..models.sources import EventSource, TableSource


def define_appends(table: Table, spark: SparkSession) -> str:
    """The streaming table and one append flow per source; returns the table's name."""
    rules = rules_of(table)
    expectations = {
        option: group
        for option, group in (
            ("expect_all", by_action(rules, "WARN")),
            ("expect_all_or_drop", by_action(rules, "DROP")),
            ("expect_all_or_fail", by_action(rules, "FAIL")),
        )
        if group
    }
    settings = table_arguments(table, dlt.backend_name(), streaming_table=True)
    dlt.create_streaming_table(name=table.name, comment=table.comment, **expectations, **settings)
    for source in table.builder.sources:
        _define_flow(table, source, spark)
    dlt.appends_defined(table.name)
    return table.name


def _define_flow(table: Table, source: EventSource | TableSource, spark: SparkSession) -> None:
    flow = table.builder.flow_name(source)

    @dlt.append_flow(target=table.name, name=flow)
    def append() -> DataFrame:
        return process(table, read_listed(table, source, spark, flow))


def flows_of(table: Table) -> list[str]:
    """The append flows of `table`, in its sources' order (empty for a single source, and for
    change feeds, whose flows write no table of their own: `runtime.change_feeds`)."""
    from ..models.cdc_feeds import change_feeds

    if not table.builder.appends or change_feeds(table.builder):
        return []
    return [table.builder.flow_name(source) for source in table.builder.sources]


__all__ = ["define_appends", "flows_of"]
