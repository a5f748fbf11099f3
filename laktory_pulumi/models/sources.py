"""Where a table reads from: landed events, or another table."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AliasChoices, ConfigDict, Field, field_validator, model_validator

from .aliases import alias_of, schema_with_aliases
from .base import FieldError, Model, UpperCase
from .schema_hints import HintError, parse_hints
from .snapshots import SnapshotCdc
from .stream_sources import (
    EventHubsStream,
    KafkaStream,
    KinesisStream,
    ValueFormat,
    check_event_source,
)

if TYPE_CHECKING:
    from .builder import TableBuilder


class Producer(Model):
    """The system that emits the events."""

    name: str = Field(description="Producer name; a folder of the landing root.", min_length=1)
    description: str | None = Field(
        default=None,
        description="What the producer is. Recorded in the metadata only, as in Laktory v0.0.22.",
    )
    party: int = Field(
        default=1,
        ge=1,
        le=3,
        description="First (1), second (2) or third (3) party data, as in Laktory v0.0.22. "
        "Recorded in the metadata only.",
    )


EventSourceType = Literal["STORAGE_DUMPS", "STORAGE_EVENTS", "STREAM_KINESIS", "STREAM_KAFKA"]
"""Laktory v0.0.22's event source types. STORAGE_EVENTS reads landed files; STREAM_KAFKA a
`kafka` or `event_hubs` block and STREAM_KINESIS a `kinesis` block (`models/stream_sources.py`);
STORAGE_DUMPS has no reader, as in Laktory v0.0.22."""


class EventSource(Model):
    """Event files landed in cloud storage (or a local folder), read by Auto Loader on Databricks.

    Laktory v0.0.22's `EventDataSource`, field for field: its reader set `multiLine` and
    `header` from `multiline` and `header`, then `read_options` over them, and read
    `<events_root><producer>/<name>/`, or `<events_root><name>/` without a producer
    (laktory/models/datasources/eventdatasource.py and dataeventheader.py at tag v0.0.22).
    """

    model_config = ConfigDict(json_schema_extra=schema_with_aliases)

    name: str = Field(
        description="Event name; a folder under the producer's (under the root without one).",
        min_length=1,
    )
    description: str | None = Field(
        default=None,
        description="What the events are. Recorded in the metadata only, as in Laktory v0.0.22.",
    )
    producer: Producer | None = Field(
        default=None,
        description="Who emits these events: a folder between the root and the event name. "
        "Without one, the events are read from `<events_root>/<name>/`, as in Laktory v0.0.22.",
    )
    type: Annotated[EventSourceType, UpperCase] = Field(
        default="STORAGE_EVENTS",
        description="How the events arrive: `STORAGE_EVENTS` (files landed in storage), "
        "`STREAM_KAFKA` (a `kafka` or `event_hubs` block) or `STREAM_KINESIS` (a `kinesis` "
        "block). `STORAGE_DUMPS` has no reader (nor had it in Laktory v0.0.22) and fails "
        "validation.",
    )
    read_as_stream: bool = Field(
        default=True,
        description="Read incrementally as a stream (Auto Loader); false reads all files each run.",
    )
    format: Annotated[Literal["JSON", "CSV", "PARQUET"], UpperCase] = Field(
        default="JSON",
        validation_alias=AliasChoices("format", "fmt"),
        description="File format of the events." + alias_of("fmt"),
    )
    multiline: bool = Field(
        default=False,
        description="JSON records may span several lines (Spark's `multiLine` reader option), "
        "as Laktory v0.0.22's `multiline`. `read_options` override it.",
    )
    header: bool = Field(
        default=True,
        description="The first line of each CSV file names the columns (Spark's `header` reader "
        "option); true by default, as in Laktory v0.0.22. `read_options` override it.",
    )
    read_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Extra options of the Spark reader, e.g. `mode: PERMISSIVE`; they override "
        "`multiline` and `header`.",
    )
    events_root: str | None = Field(
        default=None,
        description="Root of the landed events: the files are read from "
        "`<events_root>/<producer>/<name>/` (`<events_root>/<name>/` without a producer), as "
        "Laktory v0.0.22's `events_root`. Default: "
        "`<landing_root>/events/`, the landing root coming from the pipeline configuration key "
        "`landing_root`.",
    )
    schema_ddl: str | None = Field(
        default=None,
        description="Schema of the events as a DDL string; inferred from the files when unset. "
        "Strict: a field it does not declare goes to `_rescued_data` (Auto Loader's default "
        "with a given schema); to let later fields become columns, use `schema_hints`. "
        "For a stream with `value_format: json`, the schema of each record's value.",
    )
    kafka: KafkaStream | None = Field(
        default=None,
        description="`type: STREAM_KAFKA`: the Kafka topics read. Locally the records are "
        "replayed from JSON lines landed in the events folder (docs/streams.md).",
    )
    event_hubs: EventHubsStream | None = Field(
        default=None,
        description="`type: STREAM_KAFKA`: an Azure Event Hub, read through its Kafka endpoint.",
    )
    kinesis: KinesisStream | None = Field(
        default=None, description="`type: STREAM_KINESIS`: the Amazon Kinesis stream read."
    )
    value_format: ValueFormat | None = Field(
        default=None,
        description="A stream's record value in bronze: `json` (the default; parsed by "
        "`schema_ddl` into the struct column `value`, a value that does not parse kept in "
        "`_rescued_data`), `string` (UTF-8 text) or `bytes` (binary). Streams only.",
    )
    snapshots: SnapshotCdc | None = Field(
        default=None,
        description="Each landed file (or the files of one version) is a full snapshot of the "
        "source, and the table applies the changes between consecutive snapshots (DLT's "
        "`create_auto_cdc_from_snapshot_flow`); the files are read whole, not as a stream.",
    )
    schema_hints: str | None = Field(
        default=None,
        description="Types of some columns, as Auto Loader's `cloudFiles.schemaHints`: a "
        "column or dotted struct field and its type, comma-separated (`data.open DOUBLE, "
        "data.symbol STRING`). The hinted columns take these types and the others are inferred; "
        "a later file's new field still becomes a column (`addNewColumns`). On an empty landing "
        "folder (a fresh deploy) the first update reads the hinted columns as the whole schema, "
        "so hint every column the pipeline reads. Not with `schema_ddl` (Auto Loader ignores "
        "hints when a schema is given).",
    )

    @model_validator(mode="after")
    def _hints_read(self) -> EventSource:
        if self.schema_hints is None:
            return self
        if self.schema_ddl is not None:
            raise FieldError(
                "schema_hints",
                "schema_hints with schema_ddl: Auto Loader uses hints only when no schema is "
                "given; keep schema_ddl (strict) or schema_hints (columns may still grow)",
            )
        try:
            parse_hints(self.schema_hints)
        except HintError as error:
            raise FieldError("schema_hints", str(error)) from None
        return self

    @property
    def declares_columns(self) -> bool:
        """The source's columns are known before any file lands (`schema_ddl` or hints)."""
        return self.schema_ddl is not None or self.schema_hints is not None

    @model_validator(mode="after")
    def _snapshot_versions_of_files(self) -> EventSource:
        if self.snapshots is not None and self.snapshots.version == "arrival":
            raise FieldError(
                "snapshots",
                "version arrival is for table sources; landed files give their version "
                "with version: file_name (and a version_pattern) or version: column",
            )
        return self

    @model_validator(mode="after")
    def _readable_type(self) -> EventSource:
        """Each type reads with its own block, with the rules of `stream_sources`."""
        check_event_source(self)
        return self

    @property
    def is_stream(self) -> bool:
        """True for a Kafka, Event Hubs or Kinesis stream, False for landed files."""
        return self.type in ("STREAM_KAFKA", "STREAM_KINESIS")

    @property
    def stream_value_format(self) -> ValueFormat:
        """A stream's value format, `json` unless set."""
        return self.value_format or "json"

    @property
    def has_rescued_data(self) -> bool:
        """Whether the read rows have `_rescued_data`: JSON and CSV files (the reader's
        rescued or corrupt-record column), a stream whose value is parsed from JSON."""
        if self.is_stream:
            return self.stream_value_format == "json"
        return self.format in ("JSON", "CSV")

    @property
    def spark_options(self) -> dict[str, str]:
        """The reader options: `multiLine` and `header` from their fields, `read_options` over.

        Each format ignores the other's option (Spark's data source options for JSON and CSV).
        """
        options: dict[str, str | int | float | bool] = {
            "multiLine": self.multiline,
            "header": self.header,
            **self.read_options,
        }
        return {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in options.items()
        }

    @property
    def folder(self) -> str:
        """The events' folder under the root: `<producer>/<name>`, or `<name>` without a
        producer (Laktory v0.0.22's `DataEventHeader.event_root`)."""
        return f"{self.producer.name}/{self.name}" if self.producer else self.name

    def events_path(self, landing_root: str | None) -> str:
        """The folder to read: `<events_root>/<folder>/`, the root defaulting to
        `<landing_root>/events/` (None only when `events_root` is set)."""
        root = self.events_root
        if root is None:
            if landing_root is None:
                raise ValueError("no landing root, and the event source has no events_root")
            root = f"{landing_root.rstrip('/')}/events/"
        return f"{root.rstrip('/')}/{self.folder}/"


class Watermark(Model):
    """How late events may arrive on a streaming read; bounds the state of deduplication."""

    column: str = Field(description="Event-time column, a timestamp.")
    threshold: str = Field(
        description="Allowed lateness: a number and a unit, or several, e.g. `1 hour` or "
        "`1 hour 30 minutes`.",
        pattern=r"^\s*\d+\s+[A-Za-z]+(\s+\d+\s+[A-Za-z]+)*\s*$",
    )


class Cdc(Model):
    """Change data capture: apply the source as inserts, updates and deletes (DLT apply_changes)."""

    primary_keys: list[str] = Field(description="Columns identifying a row.", min_length=1)
    sequence_by: str | list[str] = Field(
        description="What orders the changes of a key: one column (or SQL expression), or "
        "several columns, as a list or as DLT-META's comma list (`ts, seq`). With several, a "
        "change is later when its first column is greater, the next column breaking ties (DLT "
        "orders by the struct of them).",
        min_length=1,
    )
    scd_type: Literal[1, 2] = Field(
        default=1, description="1 keeps the latest row per key; 2 keeps history."
    )
    apply_as_deletes: str | None = Field(
        default=None, description="SQL condition marking a change as a delete, e.g. `op = 'D'`."
    )
    except_columns: list[str] = Field(
        default_factory=list, description="Source columns left out of the target."
    )
    columns: list[str] = Field(
        default_factory=list,
        description="The only source columns kept in the target, primary keys included (DLT's "
        "`column_list`, Laktory v0.0.22's `columns`); all when empty. Excludes `except_columns`.",
    )
    apply_as_truncates: str | None = Field(
        default=None,
        description="SQL condition marking a change as a truncate: the whole target is emptied "
        "at that change's sequence, later changes applying to the empty table (DLT's "
        "`apply_as_truncates`, as in Laktory v0.0.22). SCD type 1 only, as in DLT.",
    )
    ignore_null_updates: bool | None = Field(
        default=None,
        description="True: a null in an update keeps the column's previous value (since the "
        "key's last delete), as DLT's `ignore_null_updates` and Laktory v0.0.22's. Needs "
        "`columns`, or a table whose columns its YAML names (declared `columns` on a layer that "
        "drops the source's, or `selects`), without transform: the local change-applier fills "
        "each column by name, and a pipeline query may not ask Spark for a frame's columns.",
    )
    track_history_columns: list[str] | None = Field(
        default=None,
        description="SCD type 2: only changes of these columns open a new version; changes of "
        "the others update the open version in place (DLT's `track_history_column_list`, "
        "Laktory v0.0.22's `track_history_columns`). Excludes `track_history_except_columns`.",
    )
    track_history_except_columns: list[str] | None = Field(
        default=None,
        description="SCD type 2: changes of these columns alone open no version; they update "
        "the open version in place (DLT's `track_history_except_column_list`, Laktory "
        "v0.0.22's `track_history_except_columns`). The sequence columns are never tracked.",
    )

    @field_validator("sequence_by", mode="after")
    @classmethod
    def _sequence_columns(cls, value: str | list[str]) -> str | list[str]:
        """A comma list of column names becomes the list of them (DLT-META's form); a list of
        one is its column. Other text is one column or SQL expression, kept as written."""
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",")]
            if len(parts) == 1 or not all(_COLUMN_NAME.match(p) or not p for p in parts):
                if not value.strip():
                    raise ValueError("sequence_by is empty")
                return value  # one column, or an expression such as `struct(ts, seq)`
            value = parts
        names = [name.strip() for name in value]
        bad = [name for name in names if not _COLUMN_NAME.match(name)]
        if bad:
            raise ValueError(
                f"sequence_by lists column names; '{bad[0]}' is not one (letters, digits and _)"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"sequence_by names a column twice: {', '.join(names)}")
        return names[0] if len(names) == 1 else names

    @property
    def sequence_columns(self) -> list[str] | None:
        """The columns ordering the changes, when they are columns (None for an expression)."""
        if isinstance(self.sequence_by, list):
            return list(self.sequence_by)
        return [self.sequence_by] if _COLUMN_NAME.match(self.sequence_by) else None

    @model_validator(mode="after")
    def _apply_changes_options(self) -> Cdc:
        """The combinations DLT's `apply_changes` refuses, and the one the local
        change-applier (runtime/scd.py) needs, fail here rather than at run time.

        DLT: `column_list` and `except_column_list` are exclusive (`COLUMNS {columnList | *
        EXCEPT (exceptColumnList)}`), as are the two track-history lists, and truncates apply to
        SCD type 1 only (https://learn.microsoft.com/azure/databricks/dlt-ref/
        dlt-python-ref-apply-changes).
        """
        if self.columns and self.except_columns:
            raise FieldError("except_columns", "set columns or except_columns, not both (DLT)")
        missing = [key for key in self.primary_keys if self.columns and key not in self.columns]
        if missing:
            raise FieldError("columns", f"columns must keep the primary key {missing[0]}")
        if self.apply_as_truncates and self.scd_type != 1:
            raise FieldError(
                "apply_as_truncates", "apply_as_truncates applies to scd_type 1 only, as in DLT"
            )
        if self.track_history_columns and self.track_history_except_columns:
            raise FieldError(
                "track_history_except_columns",
                "set track_history_columns or track_history_except_columns, not both (DLT)",
            )
        for field in ("track_history_columns", "track_history_except_columns"):
            if getattr(self, field) and self.scd_type != 2:
                raise FieldError(field, f"{field} keeps history: it needs scd_type 2")
        return self


_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""A plain column name, which needs no quoting in SQL."""


class TableSource(Model):
    """Another table: of this pipeline by its name, or any table by `catalog.schema.table`.

    Laktory v0.0.22's `TableDataSource` read `dlt.read(full_name)` when `from_pipeline`, else
    `spark.read.table(full_name)`, the full name being `[catalog_name.][schema_name.]name`
    (laktory/models/datasources/tabledatasource.py at tag v0.0.22).
    """

    name: str = Field(
        description="A table of this pipeline, or a full `catalog.schema.table` name.", min_length=1
    )
    from_pipeline: bool = Field(
        default=True,
        description="True: a table of this pipeline, read through the pipeline (`dlt.read` / "
        "`dlt.read_stream`, a dependency of the graph). False: a table read from the catalog "
        "(`spark.read.table`), named `[catalog_name.][schema_name.]name`; unqualified parts "
        "resolve to the pipeline's catalog and target. As Laktory v0.0.22's `from_pipeline`.",
    )
    catalog_name: str | None = Field(
        default=None,
        description="Catalog of the table read, as Laktory v0.0.22's `catalog_name`. With "
        "`from_pipeline: true` it must be the pipeline's catalog (a pipeline table lives there).",
    )
    schema_name: str | None = Field(
        default=None,
        description="Schema of the table read, as Laktory v0.0.22's `schema_name`. With "
        "`from_pipeline: true` it must be the pipeline's target.",
    )
    read_as_stream: bool = Field(
        default=True, description="Read as a stream (new rows only) rather than as a whole."
    )
    filter: str | None = Field(default=None, description="SQL condition applied to the source.")
    selects: list[str] | dict[str, str] | None = Field(
        default=None,
        description="Source columns to keep: a list of names, or a mapping name -> new name.",
    )
    watermark: Watermark | None = Field(default=None, description="Watermark of a streaming read.")
    skip_change_commits: bool = Field(
        default=False,
        description="Stream a table that also has updates and deletes, skipping the commits "
        "that change or delete rows (Delta's `skipChangeCommits` read option): the stream "
        "reads the rows of the commits that only add rows. For a CDC target of this pipeline "
        "or a catalog table; a materialized view is recomputed at each update, so it cannot be "
        "streamed even so. Local runs read a CDC target whole (theirs is recomputed), as "
        "`validate` notes.",
    )
    cdc: Cdc | None = Field(default=None, description="Apply the source as a change feed.")
    snapshots: SnapshotCdc | None = Field(
        default=None,
        description="The source is a sequence of full snapshots, read whole, and the table "
        "applies the changes between consecutive snapshots (DLT's "
        "`create_auto_cdc_from_snapshot_flow`): `version: arrival` takes the table as it is "
        "at each update, `version: column` splits it by a version column.",
    )
    schema_ddl: str | None = Field(
        default=None,
        description="Columns of the catalog table read (a `catalog.schema.table` name), as a "
        "DDL string such as `id INT, ts TIMESTAMP`: the input schema `validate --deep` analyses "
        "the table with. The run reads the table's own columns. Without it the deep check "
        "notes that the table was not analysed. Only for catalog tables: a table of this "
        "pipeline has its columns from its own definition.",
        min_length=1,
    )

    @property
    def is_external(self) -> bool:
        """True when the source is read from the catalog, not through the pipeline: a dotted
        full name, or `from_pipeline: false`."""
        return "." in self.name or not self.from_pipeline

    @property
    def catalog_table_name(self) -> str:
        """The name a catalog read uses: `[catalog_name.][schema_name.]name`."""
        return ".".join(part for part in (self.catalog_name, self.schema_name, self.name) if part)

    @model_validator(mode="after")
    def _skip_changes_of_streams(self) -> TableSource:
        if self.skip_change_commits and not self.read_as_stream:
            raise FieldError(
                "skip_change_commits",
                "skip_change_commits is an option of a stream; a whole read "
                "(read_as_stream: false) sees the table's rows as they are",
            )
        return self

    @model_validator(mode="after")
    def _qualified_once(self) -> TableSource:
        if "." in self.name and (self.catalog_name or self.schema_name):
            field = "catalog_name" if self.catalog_name else "schema_name"
            raise FieldError(
                field, f"name '{self.name}' is already a full name; drop {field} or the dots"
            )
        return self

    @model_validator(mode="after")
    def _schema_of_catalog_tables_only(self) -> TableSource:
        if self.schema_ddl is not None and not self.is_external:
            raise FieldError(
                "schema_ddl",
                f"schema_ddl declares the columns of a catalog table; '{self.name}' is a table "
                "of this pipeline, whose columns come from its definition",
            )
        return self

    @model_validator(mode="after")
    def _snapshots_of_a_table(self) -> TableSource:
        if self.snapshots is None:
            return self
        if self.cdc is not None:
            raise FieldError("snapshots", "set cdc (a change feed) or snapshots, not both")
        if self.snapshots.version == "file_name":
            raise FieldError(
                "snapshots",
                "version file_name is for landed files; a table gives its version with "
                "version: arrival or version: column",
            )
        if self.watermark is not None:
            raise FieldError("watermark", "a snapshot is read whole: it takes no watermark")
        return self

    @model_validator(mode="after")
    def _cdc_needs_stream(self) -> TableSource:
        if self.cdc is not None and not self.read_as_stream:
            raise FieldError(
                "read_as_stream", "cdc needs read_as_stream: true (changes are applied as a stream)"
            )
        return self


def flow_key(source: EventSource | TableSource) -> str:
    """A source's stable key within its table: `events_<producer>_<name>` (`events_<name>`
    without a producer) or `table_<name>`.

    It names the source's append flow, and so its checkpoint: it must not depend on the
    source's position in the list, so that adding or reordering sources reprocesses nothing.
    """
    if isinstance(source, EventSource):
        text = f"events_{source.folder.replace('/', '_')}"
    else:
        text = f"table_{source.name}"
    return re.sub(r"\W", "_", text)


def check_source_lists(builder: TableBuilder) -> None:
    """Rules of `event_sources` / `table_sources`: append flows of streams, one key each.

    Each source is an append flow into one streaming table (DLT's `append_flow`), so each reads
    a stream; or, when every listed source is a change feed (`cdc`), one change flow each
    (`create_auto_cdc_flow` with the source's flow name; `models.cdc_feeds` checks they agree);
    snapshots take one source; and an aggregation or a deduplication would only see the rows of
    one flow.
    """
    field = "event_sources" if builder.event_sources is not None else "table_sources"
    listed: list[EventSource | TableSource] = [
        *(builder.event_sources or []),
        *(builder.table_sources or []),
    ]
    keys = [flow_key(source) for source in listed]
    for key in keys:
        if keys.count(key) > 1:
            raise FieldError(field, f"two sources share the flow key '{key}'; list each once")
    if not all(source.read_as_stream for source in listed):
        raise FieldError(
            field, "each listed source is appended as a stream: remove read_as_stream: false"
        )
    if any(source.snapshots is not None for source in listed):
        raise FieldError(
            field,
            "snapshots take a single source: a snapshot's missing keys are deletes, so two "
            "snapshot flows into one table would delete each other's rows",
        )
    with_cdc = [isinstance(s, TableSource) and s.cdc is not None for s in listed]
    if any(with_cdc) and not all(with_cdc):
        raise FieldError(
            field,
            "either every listed source is a table_source with cdc (one change flow each) or "
            "none is: DLT cannot append to a table that change flows update",
        )
    if builder.aggregation is not None or builder.drop_duplicates:
        raise FieldError(
            field,
            "aggregation and drop_duplicates need a single source (each flow appends on its own)",
        )
