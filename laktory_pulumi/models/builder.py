"""How a table is built: its layer, its source and the transformations applied."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, PrivateAttr, model_validator

from .base import BackRef, FieldError, Model, UpperCase, exactly_one
from .column import ColumnExpression
from .sources import EventSource, TableSource, check_source_lists, flow_key
from .sql_inputs import is_sql_table

if TYPE_CHECKING:
    from .table import Table

Layer = Literal["BRONZE", "SILVER", "GOLD"]


class TimeWindow(Model):
    """A tumbling (or sliding) event-time window to group by."""

    time_column: str = Field(description="Timestamp column the windows are cut from.")
    window_duration: str = Field(description="Window length, e.g. `1 day`.")
    slide_duration: str | None = Field(
        default=None, description="Slide between windows; tumbling windows when unset."
    )
    start_time: str | None = Field(
        default=None, description="Offset of window starts from 1970-01-01, e.g. `-4 hours`."
    )


class Aggregate(ColumnExpression):
    """One aggregate of a gold table, e.g. `max(high)` as `high`."""

    name: str = Field(description="Output column name.", min_length=1)


class Aggregation(Model):
    """Group-by and aggregates of a gold table."""

    groupby_columns: list[str] = Field(
        default_factory=list, description="Columns to group by (besides the time window)."
    )
    window: TimeWindow | None = Field(
        default=None,
        description="Optional time window; its start and end become `window_start` and "
        "`window_end`.",
    )
    aggregates: list[Aggregate] = Field(description="Aggregate expressions.", min_length=1)

    @property
    def output_columns(self) -> list[str]:
        """Columns the aggregation produces, in order."""
        window = ["window_start", "window_end"] if self.window else []
        return [*self.groupby_columns, *window, *(agg.name for agg in self.aggregates)]


class TableBuilder(Model):
    """Source and transformations of a table."""

    layer: Annotated[Layer, UpperCase] = Field(description="Medallion layer of the table.")
    event_source: EventSource | None = Field(
        default=None, description="Read landed event files (bronze)."
    )
    table_source: TableSource | None = Field(
        default=None, description="Read another table (silver, gold)."
    )
    event_sources: list[EventSource] | None = Field(
        default=None,
        min_length=1,
        description="Several landed event sources appended into this one streaming table, "
        "each by its own flow with its own checkpoint (instead of `event_source`).",
    )
    table_sources: list[TableSource] | None = Field(
        default=None,
        min_length=1,
        description="Several tables appended into this one streaming table, each by its own "
        "flow with its own checkpoint (instead of `table_source`).",
    )
    drop_source_columns: bool | None = Field(
        default=None,
        description="Keep only the declared and system columns. Default: true on silver and "
        "gold, false on bronze.",
    )
    drop_duplicates: bool = Field(
        default=False,
        description="Drop rows repeating the table's primary_key (within the watermark on "
        "streams).",
    )
    filter: str | None = Field(
        default=None, description="SQL condition applied after the columns are built."
    )
    selects: list[str] | dict[str, str] | None = Field(
        default=None,
        description="Columns to keep at the end: a list of names, or a mapping name -> new name. "
        "The layer's system columns (`_bronze_at`, `_tstamp`, `_silver_at`, `_gold_at`) are "
        "kept too.",
    )
    aggregation: Aggregation | None = Field(
        default=None, description="Group-by and aggregates (gold)."
    )

    _table: BackRef = PrivateAttr(default_factory=BackRef)

    @model_validator(mode="after")
    def _one_source(self) -> TableBuilder:
        if is_sql_table():  # the table's query names what it reads
            if self.sources:
                field = next(f for f in ("event_source", "table_source", "event_sources",
                                         "table_sources") if getattr(self, f) is not None)  # fmt: skip
                raise FieldError(field, "a table defined by sql takes no source of its own")
        elif self.event_sources is None and self.table_sources is None:
            exactly_one(self, "event_source", "table_source")
        else:
            exactly_one(self, "event_source", "table_source", "event_sources", "table_sources")
            check_source_lists(self)
        if self.aggregation is not None and self.layer != "GOLD":
            raise FieldError(
                "aggregation", f"aggregation is for GOLD tables (this table is {self.layer})"
            )
        return self

    @property
    def source(self) -> EventSource | TableSource:
        """The one source of the table."""
        return self.event_source or self.table_source  # type: ignore[return-value]

    @property
    def sources(self) -> list[EventSource | TableSource]:
        """Every source of the table: the one source, or each of a list."""
        return [
            *([self.event_source] if self.event_source else []),
            *([self.table_source] if self.table_source else []),
            *(self.event_sources or []),
            *(self.table_sources or []),
        ]

    @property
    def table_reads(self) -> list[TableSource]:
        """The tables the builder reads: its table source or each of its table sources."""
        return [source for source in self.sources if isinstance(source, TableSource)]

    @property
    def appends(self) -> bool:
        """True when the sources are listed: one append flow each into a streaming table."""
        return self.event_sources is not None or self.table_sources is not None

    def flow_name(self, source: EventSource | TableSource) -> str:
        """The append flow of `source`: from stable keys, so a flow keeps its checkpoint."""
        return f"{self.table.name}__{flow_key(source)}"

    @property
    def drops_source_columns(self) -> bool:
        """Whether the source's columns are left out of the output."""
        if self.drop_source_columns is not None:
            return self.drop_source_columns
        table = self._table.target
        if table is not None and table.sql is not None:  # type: ignore[attr-defined]
            return False  # the query is the projection
        return self.layer != "BRONZE"

    @property
    def table(self) -> Table:
        """The table this builder belongs to."""
        if self._table.target is None:
            raise RuntimeError("this builder is not attached to a table")
        return self._table.target  # type: ignore[return-value]
