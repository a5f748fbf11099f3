"""How a table is built: its layer, its source and the transformations applied."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AliasChoices, ConfigDict, Field, PrivateAttr, model_validator

from .aliases import alias_of, schema_with_aliases
from .base import BackRef, FieldError, Model, UpperCase, exactly_one
from .column import ColumnExpression, SparkType
from .joins import TableJoin
from .sources import EventSource, TableSource, check_source_lists, flow_key
from .sql_inputs import is_sql_table
from .windows import TableWindowFilter

if TYPE_CHECKING:
    from .table import Table

Layer = Literal["BRONZE", "SILVER", "SILVER_STAR", "GOLD"]

LAYER_TEMPLATES: dict[str, str] = {
    "BRONZE": "dlt_brz_template",
    "SILVER": "dlt_slv_template",
    "SILVER_STAR": "dlt_slv_star_template",
    "GOLD": "dlt_gld_template",
}
"""The generic notebook (in `notebooks/`) that builds a layer's tables, by Laktory's names."""

LAYER_SYSTEM_COLUMNS: dict[str, tuple[str, ...]] = {
    "BRONZE": ("_bronze_at",),
    "SILVER": ("_bronze_at", "_tstamp", "_silver_at"),
    "SILVER_STAR": ("_silver_star_at",),
    "GOLD": ("_gold_at",),
}
"""Columns the runtime may stamp on a table of each layer (`runtime/builders.py`)."""


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
    """One aggregate of a gold table, e.g. `max(high)` as `high`.

    Laktory v0.0.22's `agg_expressions` items were full `Column`s, so an aggregate also takes a
    column's `comment`, `unit` and `pii`, with a column's meaning (see `models/column.py`).
    """

    name: str = Field(description="Output column name.", min_length=1)
    type: SparkType | None = Field(
        default=None,
        description="Spark SQL type the aggregate is cast to; the function's own type when unset.",
    )
    comment: str | None = Field(
        default=None,
        description="Column comment, as a table column's `comment`: the catalog shows it "
        "(Laktory v0.0.22's `agg_expressions` items were columns).",
    )
    unit: str | None = Field(
        default=None,
        description="Unit of the values, e.g. `USD`, as a table column's `unit` (schema metadata).",
    )
    pii: bool | None = Field(
        default=None,
        description="The aggregate holds personally identifiable information. Recorded only, "
        "as a table column's `pii`: kept in the deployed metadata "
        "(`pipelines/<name>.json`); nothing masks or restricts the values.",
    )


class Aggregation(Model):
    """Group-by and aggregates of a gold table."""

    model_config = ConfigDict(json_schema_extra=schema_with_aliases)

    groupby_columns: list[str] = Field(
        default_factory=list, description="Columns to group by (besides the time window)."
    )
    window: TimeWindow | None = Field(
        default=None,
        validation_alias=AliasChoices("window", "groupby_window"),
        description="Optional time window; its start and end become `window_start` and "
        "`window_end`." + alias_of("groupby_window"),
    )
    aggregates: list[Aggregate] = Field(
        validation_alias=AliasChoices("aggregates", "agg_expressions"),
        description="Aggregate expressions." + alias_of("agg_expressions"),
        min_length=1,
    )

    @property
    def output_columns(self) -> list[str]:
        """Columns the aggregation produces, in order."""
        window = ["window_start", "window_end"] if self.window else []
        return [*self.groupby_columns, *window, *(agg.name for agg in self.aggregates)]


class TableBuilder(Model):
    """Source and transformations of a table.

    The steps, in order: read the source; build the declared columns a join needs as its key;
    `joins`; the declared and system columns (one projection; on an aggregated table, after
    the aggregation instead); `window_filter`; `aggregation`; `joins_post_aggregation`;
    `filter`; `drop_duplicates`; `selects`; `drop_columns`.
    """

    layer: Annotated[Layer, UpperCase] = Field(
        description="Medallion layer of the table: BRONZE, SILVER, SILVER_STAR (silver rows "
        "enriched by joins) or GOLD. Sets the system columns and the default template."
    )
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
        description="Keep only the declared and system columns. Default: true on silver, false "
        "on bronze, silver-star and gold (Laktory v0.0.22's defaults: a silver-star table adds "
        "columns to its silver source; an aggregation keeps only its own columns anyway).",
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
    joins: list[TableJoin] = Field(
        default_factory=list,
        description="Joins with other tables, in order, before the columns are built (a "
        "declared column named in a join's `on` is built before that join).",
    )
    joins_post_aggregation: list[TableJoin] = Field(
        default_factory=list, description="Joins applied to the aggregated rows (gold)."
    )
    window_filter: TableWindowFilter | None = Field(
        default=None,
        description="Keep the first rows of each group (e.g. the latest row per symbol); needs "
        "a batch read of the source.",
    )
    drop_columns: list[str] = Field(
        default_factory=list, description="Columns removed at the very end."
    )
    template: Annotated[str, Field(min_length=1)] | Literal[False] | None = Field(
        default=None,
        description="Laktory v0.0.22's tag saying what builds this table; default: the layer. "
        "The layer's generic template builds the tables tagged with its layer (`SILVER` -> "
        "`dlt_slv_template`, `BRONZE`, `SILVER_STAR`, `GOLD` alike). Any other tag is selected "
        "by a notebook of the pipeline's libraries: one named by it (`my_notebook` or "
        "`my_notebook.py`, e.g. a copy of a generic template that sets `NOTEBOOK` to its own "
        "name), or one whose code holds the tag as a string (Laktory's `if "
        "table.builder.template == 'STOCK_PERFORMANCES'`); a tag no library notebook selects "
        "fails validation. `false`: no template builds it; a library notebook must name the "
        "table in its code.",
    )
    pipeline_name: str | None = Field(
        default=None,
        description="Laktory v0.0.22 fills it with the pipeline's name; when written, it must "
        "be that name.",
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
            # None at all is allowed here: a table with static `data` needs no source (the
            # table checks that one of the two is there).
            if self.event_source is not None and self.table_source is not None:
                exactly_one(self, "event_source", "table_source")
        else:
            exactly_one(self, "event_source", "table_source", "event_sources", "table_sources")
            check_source_lists(self)
        if self.aggregation is not None and self.layer != "GOLD":
            raise FieldError(
                "aggregation", f"aggregation is for GOLD tables (this table is {self.layer})"
            )
        if self.joins_post_aggregation and self.aggregation is None:
            raise FieldError(
                "joins_post_aggregation", "joins_post_aggregation needs an aggregation"
            )
        if self.window_filter is not None and self.reads_stream:
            raise FieldError(
                "window_filter",
                "window_filter needs a batch read of the source (read_as_stream: false): "
                "Spark numbers rows over windows of batch data only",
            )
        return self

    @property
    def source(self) -> EventSource | TableSource:
        """The one source of the table."""
        source = self.event_source or self.table_source
        if source is None:
            raise ValueError("this builder has no source (its table has static data)")
        return source

    @property
    def has_source(self) -> bool:
        """False for a table of static `data` rows or of a SQL query."""
        return bool(self.sources)

    def located_event_sources(self) -> list[tuple[tuple[str | int, ...], EventSource]]:
        """Each event source with its field path under the table (`builder.event_source`,
        `builder.event_sources[i]`), for messages that point at it."""
        found: list[tuple[tuple[str | int, ...], EventSource]] = []
        if self.event_source is not None:
            found.append((("builder", "event_source"), self.event_source))
        for position, source in enumerate(self.event_sources or []):
            found.append((("builder", "event_sources", position), source))
        return found

    def located_table_sources(self) -> list[tuple[tuple[str | int, ...], TableSource]]:
        """Each table source with its field path under the table, as `located_event_sources`."""
        found: list[tuple[tuple[str | int, ...], TableSource]] = []
        if self.table_source is not None:
            found.append((("builder", "table_source"), self.table_source))
        for position, source in enumerate(self.table_sources or []):
            found.append((("builder", "table_sources", position), source))
        return found

    @property
    def recomputes_whole(self) -> bool:
        """An aggregation of a streamed table source without watermark: DLT keeps every group
        in its state and rewrites the whole table at each update (complete output mode), as
        a materialized view would ("To ensure queries that perform aggregations are processed
        incrementally and not fully recomputed with each update, you must use watermarks":
        Databricks docs, "Optimize stateful processing in Delta Live Tables with watermarks",
        https://docs.databricks.com/en/delta-live-tables/stateful-processing.html)."""
        source = self.table_source
        return (
            self.aggregation is not None
            and source is not None
            and source.read_as_stream
            and source.watermark is None
            and not self.joins
        )

    @property
    def reads_stream(self) -> bool:
        """Whether the sources are read as streams (static data and SQL queries are not)."""
        return self.has_source and all(source.read_as_stream for source in self.sources)

    @property
    def tag(self) -> str | None:
        """The tag notebooks select this table by (Laktory's `template`): the layer when unset,
        None when `template: false`."""
        if self.template is False:
            return None
        return self.template or self.layer

    @property
    def notebook(self) -> str | None:
        """The name (no `.py`) of the notebook the tag names: a layer's generic template, or the
        tag as a notebook name (a free-form tag names none: a notebook selects it by value).
        None when `template: false`."""
        tag = self.tag
        if tag is None:
            return None
        if tag.upper() in LAYER_TEMPLATES:
            return LAYER_TEMPLATES[tag.upper()]
        return tag.rsplit("/", 1)[-1].removesuffix(".py")

    @property
    def names_a_notebook_file(self) -> bool:
        """The template is written as a notebook path or file (`x.py`, `/pipelines/x`), not a
        tag: only a notebook of that name can build the table."""
        return isinstance(self.template, str) and (
            self.template.endswith(".py") or "/" in self.template
        )

    @property
    def table_reads(self) -> list[tuple[tuple[str | int, ...], TableSource]]:
        """Every table this builder reads, with its path under the builder: sources, then joins."""
        reads: list[tuple[tuple[str | int, ...], TableSource]] = []
        if self.table_source is not None:
            reads.append((("table_source",), self.table_source))
        for index, source in enumerate(self.table_sources or []):
            reads.append((("table_sources", index), source))
        for field in ("joins", "joins_post_aggregation"):
            for index, join in enumerate(getattr(self, field)):
                reads.append(((field, index, "other"), join.other))
        return reads

    @property
    def all_joins(self) -> list[TableJoin]:
        """Joins before and after the aggregation."""
        return [*self.joins, *self.joins_post_aggregation]

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
        # Laktory v0.0.22, TableBuilder.default_options: true on SILVER only.
        return self.layer == "SILVER"

    @property
    def table(self) -> Table:
        """The table this builder belongs to."""
        if self._table.target is None:
            raise RuntimeError("this builder is not attached to a table")
        return self._table.target  # type: ignore[return-value]
