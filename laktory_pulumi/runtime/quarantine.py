"""Quarantine tables beyond a single query: tables fed by several sources, and CDC targets.

A table with one source re-reads that source for its quarantine (`tables.define_quarantine`).
A table fed by several sources has no single query: its quarantine is a streaming table of its
own, fed by one append flow per source, as the table itself is (`runtime.flows`). Each flow
reads its source as the table's flow does, processes it the same way, and keeps the rows
failing a DROP rule, with the rules they failed (`_failed_expectations`), the source's flow key
(`_flow`, `models.sources.flow_key`) and, for landed events, the file (`_source_file`). The
flows are named `<table>_quarantine__<flow key>`, from stable keys, so each keeps its own
checkpoint when sources are added or reordered. On Databricks these are `dlt.append_flow`s into
`dlt.create_streaming_table(<table>_quarantine)`; locally `SdpBackend` runs them as any
append target's flows.

A CDC target's quarantine takes the change rows its rules drop from the change-feed view,
before `apply_changes` reads it: DLT can express that, since the rules of the view drop the
rows and the quarantine table streams the same feed. With one `sequence_by` column or
expression, a change whose sequence is NULL is one of them (rule `sequence_not_null`): DLT
does not support NULL sequences ("NULL sequencing values are unsupported",
https://docs.databricks.com/en/delta-live-tables/cdc.html) and the local change-applier never
applies them (`runtime.scd`); quarantined, they are kept, never in history. A struct of several
sequence columns is never NULL, so it adds no rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import dlt
from .builders import process
from .expectations import Rule, quarantine, rules_of

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models import Table
    from ..models.sources import EventSource, TableSource

FLOW_COLUMN = "_flow"
"""Column of a quarantine fed by several sources: the flow key of the source a row came from."""

NULL_SEQUENCE_RULE = "sequence_not_null"
"""The DROP rule sending a change with a NULL sequence to a CDC table's quarantine."""


def null_sequence_rules(table: Table) -> list[Rule]:
    """The DROP rule of a quarantined CDC table ordered by one column or expression."""
    if not table.quarantines_null_sequences:
        return []
    source = table.builder.table_source
    assert source is not None and source.cdc is not None
    return [Rule(NULL_SEQUENCE_RULE, f"({source.cdc.sequence_by}) IS NOT NULL", "DROP")]


def quarantine_flow_name(table: Table, source: EventSource | TableSource) -> str:
    """The append flow of `source` into the table's quarantine."""
    from ..models.sources import flow_key

    return f"{table.quarantine_name}__{flow_key(source)}"


def quarantine_flows(table: Table) -> list[str]:
    """The append flows of a table's quarantine (empty unless it appends several sources)."""
    if not (table.quarantine and table.builder.appends):
        return []
    return [quarantine_flow_name(table, source) for source in table.builder.sources]


def quarantine_datasets(table: Table) -> list[str]:
    """Every dataset holding the table's quarantined rows: its flows' and the table."""
    if not table.quarantine:
        return []
    return [*quarantine_flows(table), table.quarantine_name]


def define_quarantine_flows(table: Table, spark: SparkSession) -> str:
    """`<table>_quarantine` and one append flow per source of `table`; returns its name."""
    dlt.create_streaming_table(
        name=table.quarantine_name,
        comment=f"Rows of {table.name} that failed a DROP expectation, with their flow.",
    )
    for source in table.builder.sources:
        _define_quarantine_flow(table, source, spark)
    dlt.appends_defined(table.quarantine_name)
    return table.quarantine_name


def _define_quarantine_flow(
    table: Table, source: EventSource | TableSource, spark: SparkSession
) -> None:
    from pyspark.sql import functions as F

    from ..models.sources import flow_key
    from .readers import read_listed

    key = flow_key(source)

    @dlt.append_flow(target=table.quarantine_name, name=quarantine_flow_name(table, source))
    def quarantined() -> DataFrame:
        # Read with the table's flow key, as its flow reads it: one kept schema per source.
        frame = process(table, read_listed(table, source, spark, table.builder.flow_name(source)))
        return quarantine(frame, rules_of(table)).withColumns({FLOW_COLUMN: F.lit(key)})


__all__ = [
    "FLOW_COLUMN",
    "NULL_SEQUENCE_RULE",
    "define_quarantine_flows",
    "null_sequence_rules",
    "quarantine_datasets",
    "quarantine_flow_name",
    "quarantine_flows",
]
