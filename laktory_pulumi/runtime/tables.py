"""`define_table(table, spark)`: every dataset one table of the metadata needs, in any backend.

The templates call it for each table they build: a table with its expectations (and its
quarantine table when asked); a CDC table (its change feed as a view, applied with
`apply_changes`); a table listing several sources, one append flow each (`runtime.flows`), or
one change flow each when they are change feeds (`runtime.change_feeds`); a table read as
full snapshots (`runtime.snapshots`).
What the query reads comes from `source_frame`: the table's source, its SQL query, or its
static `data` rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..models.cdc_feeds import change_feeds, snapshot_source
from . import dlt
from .builders import process
from .cdc_columns import filled_columns
from .change_feeds import define_change_feeds
from .deduplication import deferring_deduplication, defers_deduplication
from .expectations import define_aggregate_checks, quarantine, rules_of
from .flows import define_appends
from .joins import assert_unique_output
from .quarantine import define_quarantine_flows
from .readers import read_source
from .scd import sequence_arguments
from .sinks import define_sinks
from .snapshots import define_snapshots
from .sql_tables import read_sql
from .static import static_rows
from .table_settings import private_keyword, table_arguments
from .udfs import import_function, user_functions

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models import Pipeline, Table


def tables_of(pipeline: Pipeline, notebook: str) -> list[Table]:
    """The tables `notebook` (a name without `.py`) builds: those whose template (tag) names it,
    or names the layer whose generic template it is."""
    return [table for table in pipeline.tables if table.builder.notebook == notebook]


def define_table(table: Table, spark: SparkSession) -> Any:
    """Define `table` (and its quarantine table or change feed, and the view checking its
    AGGREGATE expectations); returns its dataset."""
    import_modules(table)
    dataset = _define_dataset(table, spark)
    define_aggregate_checks(table)
    define_sinks(table, spark)
    return dataset


def _define_dataset(table: Table, spark: SparkSession) -> Any:
    source = table.builder.table_source
    if source is not None and source.cdc is not None:
        return define_changes(table, spark)
    if change_feeds(table.builder):
        return define_change_feeds(table, spark)
    if snapshot_source(table.builder) is not None:
        return define_snapshots(table, spark)
    if table.builder.appends:
        name = define_appends(table, spark)
        if table.quarantine:
            define_quarantine_flows(table, spark)
        return name

    @dlt.table(name=table.name, comment=table.comment, **settings_of(table))
    @dlt.expectations(table)
    def query() -> DataFrame:  # a SQL table too: `source_frame` runs its query
        return built(table, spark)

    if table.quarantine:
        define_quarantine(table, spark)
    return query


def import_modules(table: Table) -> None:
    """Import the project's modules the table calls, here rather than in its query function.

    A module's top level may ask the session something: `@F.udf` reads
    `spark.sql.execution.pythonUDF.arrow.enabled` from the session's conf when it wraps the
    function (pyspark's `sql/connect/udf.py`, `_create_py_udf`), and Spark Declarative
    Pipelines refuses that inside a query function (ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION).
    Imported once here, the module is already loaded when the query function runs.
    """
    if dlt.backend_name() != "sdp" or table._pipeline.target is None:  # type: ignore[attr-defined]
        return  # DLT and the eager backend run query functions where the session may be asked
    user_functions(table)
    if table.transform is not None:
        import_function(table.transform, table.pipeline)


def settings_of(table: Table, *, streaming_table: bool = False) -> dict[str, Any]:
    """The keyword arguments of the table's settings (properties, clustering, partitions, row
    filter, masks, private) for the `dlt` backend in use (`runtime.table_settings`)."""
    arguments = table_arguments(table, dlt.backend_name(), streaming_table=streaming_table)
    return private_keyword(arguments, getattr(dlt.backend(), "table", None))


def source_frame(table: Table, spark: SparkSession) -> DataFrame:
    """What the table is built from: its source, read; its SQL query; or its static rows."""
    if table.data is not None:
        return static_rows(table, spark)
    if table.sql is not None:
        return read_sql(table, spark)
    return read_source(table, spark)


def built(table: Table, spark: SparkSession) -> DataFrame:
    """The table's source (or its SQL query), read and processed: what its dataset returns.

    Never two columns of one name (`joins.assert_unique_output`): the write would fail, or
    write a table its readers refuse.
    """
    frame = process(table, source_frame(table, spark))
    assert_unique_output(table, frame)
    return frame


def define_quarantine(table: Table, spark: SparkSession) -> Any:
    """`<table>_quarantine`: the rows its DROP expectations remove, with the rules they failed.

    It reads the table's source as the table does (a stream when the table streams), so each
    update quarantines the rows that update dropped.
    """

    @dlt.table(
        name=table.quarantine_name,
        comment=f"Rows of {table.name} that failed a DROP expectation.",
    )
    def quarantined() -> DataFrame:
        # Before deduplication, as the table's own expectations (see `deduplication`).
        if defers_deduplication(table):
            with deferring_deduplication(table):
                return quarantine(built(table, spark), rules_of(table))
        return quarantine(built(table, spark), rules_of(table))

    return quarantined


def changes_view_name(table: Table) -> str:
    """The view holding a CDC table's processed change feed."""
    return table.changes_view_name


def define_changes(table: Table, spark: SparkSession) -> Any:
    """A CDC table: its change feed as a view, applied to the target with `apply_changes`."""
    source = table.builder.table_source
    if source is None or source.cdc is None:
        raise ValueError(f"table {table.name} has no table_source.cdc")
    cdc = source.cdc

    @dlt.view(name=changes_view_name(table))
    @dlt.expectations(table)
    def changes() -> DataFrame:
        return built(table, spark)

    if table.quarantine:  # the changes the view's rules drop, before they are applied
        define_quarantine(table, spark)
    dlt.create_streaming_table(
        name=table.name, comment=table.comment, **settings_of(table, streaming_table=True)
    )
    return dlt.apply_changes(
        target=table.name,
        source=changes_view_name(table),
        keys=cdc.primary_keys,
        **sequence_arguments(
            cdc.sequence_by,
            cdc.scd_type,
            cdc.except_columns,
            track_history_except=cdc.track_history_except_columns or (),
            track_history_only=cdc.track_history_columns or (),
        ),
        stored_as_scd_type=cdc.scd_type,
        apply_as_deletes=cdc.apply_as_deletes,
        except_column_list=cdc.except_columns or None,
        column_list=cdc.columns or None,
        apply_as_truncates=cdc.apply_as_truncates,
        **_null_updates_arguments(table),
    )


def _null_updates_arguments(table: Table) -> dict[str, Any]:
    """DLT's `ignore_null_updates`, or the same as `ignore_null_updates_column_list` of every
    non-key column when `cdc.columns` does not name them (see `runtime.cdc_columns`)."""
    source = table.builder.table_source
    cdc = source.cdc if source is not None else None
    if cdc is None or not cdc.ignore_null_updates:
        return {}
    if cdc.columns:
        return {"ignore_null_updates": True}
    return {"ignore_null_updates_column_list": filled_columns(table)}
