"""Where a table reads from: landed events, or another table."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .base import FieldError, Model, UpperCase

if TYPE_CHECKING:
    from .builder import TableBuilder


class Producer(Model):
    """The system that emits the events."""

    name: str = Field(description="Producer name; a folder of the landing root.", min_length=1)


class EventSource(Model):
    """Event files landed in cloud storage (or a local folder), read by Auto Loader on Databricks."""

    name: str = Field(description="Event name; a folder under the producer's.", min_length=1)
    producer: Producer = Field(description="Who emits these events.")
    read_as_stream: bool = Field(
        default=True,
        description="Read incrementally as a stream (Auto Loader); false reads all files each run.",
    )
    format: Annotated[Literal["JSON", "CSV", "PARQUET"], UpperCase] = Field(
        default="JSON", description="File format of the events."
    )
    read_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Extra options of the Spark reader, e.g. `multiLine: true`, `header: true`.",
    )
    events_root: str | None = Field(
        default=None,
        description="Folder holding the event files. Default: "
        "`<landing_root>/events/<producer>/<name>/`, the landing root coming from the "
        "pipeline configuration key `landing_root`.",
    )
    schema_ddl: str | None = Field(
        default=None,
        description="Schema of the events as a DDL string; inferred from the files when unset.",
    )

    def events_path(self, landing_root: str) -> str:
        """The folder to read, given the landing root of the environment."""
        if self.events_root:
            return self.events_root
        return f"{landing_root.rstrip('/')}/events/{self.producer.name}/{self.name}/"


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


_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""A plain column name, which needs no quoting in SQL."""


class TableSource(Model):
    """Another table: of this pipeline by its name, or any table by `catalog.schema.table`."""

    name: str = Field(
        description="A table of this pipeline, or a full `catalog.schema.table` name.", min_length=1
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
    cdc: Cdc | None = Field(default=None, description="Apply the source as a change feed.")
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
        """True when the source lives outside the pipeline (a dotted full name)."""
        return "." in self.name

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
    def _cdc_needs_stream(self) -> TableSource:
        if self.cdc is not None and not self.read_as_stream:
            raise FieldError(
                "read_as_stream", "cdc needs read_as_stream: true (changes are applied as a stream)"
            )
        return self


def flow_key(source: EventSource | TableSource) -> str:
    """A source's stable key within its table: `events_<producer>_<name>` or `table_<name>`.

    It names the source's append flow, and so its checkpoint: it must not depend on the
    source's position in the list, so that adding or reordering sources reprocesses nothing.
    """
    if isinstance(source, EventSource):
        text = f"events_{source.producer.name}_{source.name}"
    else:
        text = f"table_{source.name}"
    return re.sub(r"\W", "_", text)


def check_source_lists(builder: TableBuilder) -> None:
    """Rules of `event_sources` / `table_sources`: append flows of streams, one key each.

    Each source is an append flow into one streaming table (DLT's `append_flow`), so each reads
    a stream; change feeds (`cdc`) need `apply_changes` on a single source; and an aggregation
    or a deduplication would only see the rows of one flow.
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
    if any(isinstance(source, TableSource) and source.cdc is not None for source in listed):
        raise FieldError(field, "cdc takes a single table_source (apply_changes reads one feed)")
    if builder.aggregation is not None or builder.drop_duplicates:
        raise FieldError(
            field,
            "aggregation and drop_duplicates need a single source (each flow appends on its own)",
        )
