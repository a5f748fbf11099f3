"""A table fed by several change feeds: one change flow per listed table source.

DLT's pattern: `create_streaming_table` once, then `create_auto_cdc_flow(target=...,
flow_name=...)` once per feed (Databricks docs, "The AUTO CDC APIs": several flows may write
one target; `flow_name` names each, and so its checkpoint). The flow name is the source's stable
key (`TableBuilder.flow_name`), as for append flows: adding a feed later starts one new flow.
Each feed's changes go through the table's processing and expectations in a view of its own.
Locally the target is the SCD table of every feed's changes at once
(`runtime.scd.apply_changes_of_feeds`): the latest change of a key wins, whichever feed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import dlt
from .builders import process
from .readers import read_listed
from .scd import sequence_arguments

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models import Table
    from ..models.sources import TableSource


def define_change_feeds(table: Table, spark: SparkSession) -> str:
    """The streaming table, one view and one change flow per feed; returns the table's name."""
    from ..models.cdc_feeds import change_feeds
    from .tables import settings_of

    dlt.create_streaming_table(
        name=table.name, comment=table.comment, **settings_of(table, streaming_table=True)
    )
    for source in change_feeds(table.builder):
        _define_feed(table, source, spark)
    dlt.change_flows_defined(table.name)
    return table.name


def _define_feed(table: Table, source: TableSource, spark: SparkSession) -> None:
    from ..models.cdc_feeds import feed_view_name

    flow = table.builder.flow_name(source)
    view = feed_view_name(table, source)

    @dlt.view(name=view)
    @dlt.expectations(table)
    def changes() -> DataFrame:
        return process(table, read_listed(table, source, spark, flow))

    dlt.create_auto_cdc_flow(
        target=table.name, source=view, flow_name=flow, **feed_arguments(source)
    )


def feed_arguments(source: TableSource) -> dict[str, Any]:
    """The arguments of one feed's change flow, after target, source and flow name."""
    cdc = source.cdc
    if cdc is None:
        raise ValueError(f"table source {source.name} has no cdc")
    return {
        "keys": list(cdc.primary_keys),
        **sequence_arguments(
            cdc.sequence_by,
            cdc.scd_type,
            cdc.except_columns,
            track_history_except=cdc.track_history_except_columns or (),
            track_history_only=cdc.track_history_columns or (),
        ),
        "stored_as_scd_type": cdc.scd_type,
        "apply_as_deletes": cdc.apply_as_deletes,
        "except_column_list": cdc.except_columns or None,
        "column_list": cdc.columns or None,
    }


__all__ = ["define_change_feeds", "feed_arguments"]
