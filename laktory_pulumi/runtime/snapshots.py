"""A table fed by full snapshots: DLT's `create_auto_cdc_from_snapshot_flow`, and what it keeps.

On Databricks DLT derives the changes between consecutive snapshots itself; the table's flow
gives it either the name of a view read whole at each update (`version: arrival`, DLT's
periodic snapshot) or a function `source(latest_snapshot_version) -> (DataFrame, version) |
None` that DLT calls until it returns None (historical snapshots: `SnapshotReader`). DLT's
Python reference (https://learn.microsoft.com/azure/databricks/ldp/developer/
ldp-python-ref-apply-changes-from-snapshot): a key absent from the target is inserted, a key
whose values changed is updated, "rows with keys present in the target but no longer present
in the source are deleted"; in SCD 2, `__START_AT` and `__END_AT` hold snapshot versions.

Locally (Spark Declarative Pipelines) the target is a materialized view recomputed from every
snapshot, as `runtime.scd` does for change feeds: `snapshot_changes` turns the snapshots into
the change feed DLT derives (every row of a snapshot is an upsert at its version, and a key
missing from the next snapshot is a delete at that snapshot's version), and `runtime.scd`
applies it. The result depends only on the snapshots, so an update with no new snapshot
changes nothing. A table read at each update (`version: arrival`) has no history of its own:
`snapshot_log` keeps each read under the pipeline's catalog, written by the local driver before
each update from the tables the previous update committed (so a killed run loses no snapshot).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from ..metadata import on_databricks
from .scd import ChangeSpec, apply_changes

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from ..models import Table
    from ..models.snapshots import SnapshotCdc
    from ..models.sources import EventSource, TableSource

SNAPSHOT_VERSION = "__laktory_snapshot_version"
"""The version of each row's snapshot, in the local frame of every snapshot."""
_DELETED = "__laktory_snapshot_deleted"
_NEXT_VERSION = "__laktory_next_version"
_ORDINAL = "__laktory_ordinal"
_NEXT_SEEN = "__laktory_next_seen"


# What DLT computes --------------------------------------------------------------------------


def snapshot_changes(snapshots: DataFrame, keys: list[str]) -> DataFrame:
    """The change feed DLT derives from consecutive snapshots (`SNAPSHOT_VERSION` on each row).

    Each row is an upsert at its snapshot's version; a key seen in one snapshot and missing
    from the next is a delete at the next one's version (the row itself, re-dated and flagged
    `_DELETED`, so both halves have the same columns).
    """
    in_order = Window.orderBy(SNAPSHOT_VERSION)
    versions = (
        snapshots.select(SNAPSHOT_VERSION)
        .distinct()
        .select(
            SNAPSHOT_VERSION,
            F.lead(SNAPSHOT_VERSION).over(in_order).alias(_NEXT_VERSION),
            F.row_number().over(in_order).alias(_ORDINAL),
        )
    )
    rows = snapshots.join(versions, on=SNAPSHOT_VERSION)
    in_key = Window.partitionBy(*keys).orderBy(_ORDINAL)
    marked = rows.select("*", F.lead(_ORDINAL).over(in_key).alias(_NEXT_SEEN))
    vanishes = F.col(_NEXT_VERSION).isNotNull() & (
        F.col(_NEXT_SEEN).isNull() | (F.col(_NEXT_SEEN) > F.col(_ORDINAL) + 1)
    )
    upserts = marked.select("*", F.lit(False).alias(_DELETED))
    deletes = (
        marked.where(vanishes)
        .select("*", F.lit(True).alias(_DELETED))
        .withColumns({SNAPSHOT_VERSION: F.col(_NEXT_VERSION)})
    )
    changes = upserts.unionByName(deletes)
    return changes.selectExpr(f"* EXCEPT (`{_NEXT_VERSION}`, `{_ORDINAL}`, `{_NEXT_SEEN}`)")


def apply_snapshots(
    snapshots: DataFrame,
    keys: list[str],
    stored_as_scd_type: int | str = 1,
    track_history_column_list: list[str] | None = None,
    track_history_except_column_list: list[str] | None = None,
) -> DataFrame:
    """The SCD table DLT keeps from these snapshots (a frame of every snapshot's rows, with
    `SNAPSHOT_VERSION`): the arguments are `create_auto_cdc_from_snapshot_flow`'s."""
    spec = ChangeSpec(
        keys=list(keys),
        sequence_by=SNAPSHOT_VERSION,
        stored_as_scd_type=int(stored_as_scd_type),
        apply_as_deletes=f"`{_DELETED}`",
        except_column_list=(SNAPSHOT_VERSION, _DELETED),
        track_history_column_list=tuple(track_history_column_list or ()),
        track_history_except_column_list=tuple(track_history_except_column_list or ()),
    )
    return apply_changes(snapshot_changes(snapshots, list(keys)), spec)


# The flow of a table ----------------------------------------------------------------------


def define_snapshots(table: Table, spark: SparkSession) -> Any:
    """A snapshot table: its streaming table, and one snapshot flow into it."""
    from . import dlt
    from .tables import settings_of

    _, settings = _snapshot_source(table)
    dlt.create_streaming_table(
        name=table.name, comment=table.comment, **settings_of(table, streaming_table=True)
    )
    flow_source: Any
    if settings.version == "arrival":
        from ..models.cdc_feeds import snapshot_view_name

        @dlt.view(name=snapshot_view_name(table))
        def snapshot() -> DataFrame:
            return SnapshotReader(table, spark).whole()

        flow_source = snapshot_view_name(table)
    else:
        flow_source = SnapshotReader(table, spark)
    return dlt.create_auto_cdc_from_snapshot_flow(
        target=table.name, source=flow_source, **snapshot_arguments(table)
    )


def snapshot_arguments(table: Table) -> dict[str, Any]:
    """`keys`, `stored_as_scd_type` and the history list of the table's snapshot flow.

    In SCD 2, the columns that differ in every snapshot whatever the data (the layer's system
    columns such as `_source_file` and `_bronze_at`, and a version column) are left untracked,
    as sequence columns are in a change feed: tracked, they would open a version of every key
    at every snapshot.
    """
    from .builders import _system_columns

    _, settings = _snapshot_source(table)
    arguments: dict[str, Any] = {
        "keys": list(settings.primary_keys),
        "stored_as_scd_type": settings.scd_type,
    }
    if settings.scd_type != 2:
        return arguments
    if settings.track_history_columns:
        arguments["track_history_column_list"] = list(settings.track_history_columns)
        return arguments
    untracked = [
        *(settings.track_history_except_columns or []),
        *_system_columns(table),
        *([settings.version_column] if settings.version_column else []),
    ]
    arguments["track_history_except_column_list"] = list(dict.fromkeys(untracked))
    return arguments


def _snapshot_source(table: Table) -> tuple[EventSource | TableSource, SnapshotCdc]:
    from ..models.cdc_feeds import snapshot_source

    found = snapshot_source(table.builder)
    if found is None or found[1].snapshots is None:
        raise ValueError(f"table {table.name} has no source read as snapshots")
    return found[1], found[1].snapshots


class SnapshotReader:
    """The table's snapshots, for DLT and for the local change-applier.

    Called by DLT as `source(latest_snapshot_version)`: the next snapshot after that version,
    processed as the table's rows, with its version; None when there is none (DLT then stops
    asking until the next update). `every_snapshot` is the local form: all of them at once,
    each row with its `SNAPSHOT_VERSION`.
    """

    def __init__(self, table: Table, spark: SparkSession) -> None:
        self.table = table
        self.spark = spark
        self.source, self.settings = _snapshot_source(table)

    def __call__(self, latest_snapshot_version: Any) -> tuple[DataFrame, Any] | None:
        later = [
            version
            for version in self.versions()
            if latest_snapshot_version is None or version > latest_snapshot_version
        ]
        if not later:
            return None
        version = min(later)
        every = self.every_snapshot()
        snapshot = every.where(F.col(SNAPSHOT_VERSION) == F.lit(version))
        return snapshot.selectExpr(f"* EXCEPT (`{SNAPSHOT_VERSION}`)"), version

    def versions(self) -> list[Any]:
        """The versions there are (on the driver: one value per snapshot, not their rows)."""
        if self.settings.version == "file_name":
            return sorted({v for v in map(self._file_version, self._files()) if v is not None})
        rows = self.every_snapshot().select(SNAPSHOT_VERSION).distinct().collect()
        return sorted(row[0] for row in rows if row[0] is not None)

    def whole(self) -> DataFrame:
        """The source read whole and processed: the one snapshot of a `version: arrival` read."""
        from .builders import process

        return process(self.table, self._read())

    def every_snapshot(self) -> DataFrame:
        """Every snapshot's rows, processed, with their `SNAPSHOT_VERSION`."""
        from ..models.sources import EventSource

        frame = self.whole()
        if self.settings.version == "column":
            assert self.settings.version_column is not None
            version = F.col(_quoted(self.settings.version_column))
        else:
            assert isinstance(self.source, EventSource) and self.settings.version_pattern
            version = _version_of_path(self.settings.version_pattern)
        return frame.select("*", version.alias(SNAPSHOT_VERSION))

    def _read(self) -> DataFrame:
        from ..models.sources import EventSource
        from .readers import read_events, read_table_source

        whole = self.source.model_copy(update={"read_as_stream": False})
        if isinstance(whole, EventSource):
            if on_databricks():
                return _read_files_on_databricks(whole, self.spark)
            return read_events(self.table, whole, self.spark, {})
        return read_table_source(whole, self.spark)

    def _files(self) -> list[str]:
        """The paths of the landed files (names only: `binaryFile` reads no content unless
        asked)."""
        from ..models.sources import EventSource
        from .readers import landing_root

        assert isinstance(self.source, EventSource)
        root = None if self.source.events_root else landing_root(self.spark)
        try:
            listed = (
                self.spark.read.format("binaryFile")
                .option("recursiveFileLookup", "true")
                .load(self.source.events_path(root))
                .select("path")
                .collect()
            )
        except Exception as error:  # no folder yet: no snapshot yet
            if "PATH_NOT_FOUND" in str(error) or "does not exist" in str(error):
                return []
            raise
        return [row[0] for row in listed]

    def _file_version(self, path: str) -> int | None:
        assert self.settings.version_pattern is not None
        found = re.search(self.settings.version_pattern, path)
        if found is None or not found.group(1).isdigit():
            return None
        return int(found.group(1))


def _version_of_path(pattern: str) -> Any:
    """The version in `_source_file`: the pattern's first group, a number; an update fails on
    a file whose name gives none, rather than leave its rows out."""
    from .readers import SOURCE_FILE_COLUMN

    text = F.regexp_extract(F.col(SOURCE_FILE_COLUMN), pattern, 1)
    number = text.try_cast("bigint") if hasattr(text, "try_cast") else text.cast("bigint")
    return F.when(number.isNotNull(), number).otherwise(
        F.raise_error(
            F.concat(
                F.lit(f"snapshot file without a version (version_pattern {pattern}): "),
                F.col(SOURCE_FILE_COLUMN),
            )
        ).cast("bigint")
    )


def _read_files_on_databricks(source: EventSource, spark: SparkSession) -> DataFrame:
    """The landed files read whole (a batch read: Auto Loader streams), bad records in
    `_rescued_data` as Auto Loader keeps them (Databricks' `rescuedDataColumn` reader
    option), each row with its `_source_file`."""
    from .readers import RESCUED_DATA_COLUMN, landing_root, with_source_file

    root = None if source.events_root else landing_root(spark)
    reader = spark.read.format(source.format.lower()).options(**source.spark_options)
    reader = reader.option("rescuedDataColumn", RESCUED_DATA_COLUMN)
    reader = reader.option("recursiveFileLookup", "true")
    if source.schema_ddl:
        reader = reader.schema(source.schema_ddl)
    return with_source_file(reader.load(source.events_path(root)))


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


__all__ = [
    "SNAPSHOT_VERSION",
    "SnapshotReader",
    "apply_snapshots",
    "define_snapshots",
    "snapshot_arguments",
    "snapshot_changes",
]
