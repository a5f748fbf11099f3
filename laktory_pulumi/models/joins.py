"""Joins of a table's source with other tables (Laktory v0.0.22's `TableJoin`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from .aliases import schema_with_aliases
from .base import FieldError, Model
from .sources import TableSource

JoinHow = Literal[
    "inner",
    "left",
    "left_outer",
    "leftouter",
    "right",
    "right_outer",
    "rightouter",
    "full",
    "outer",
    "full_outer",
    "fullouter",
    "left_semi",
    "leftsemi",
    "semi",
    "left_anti",
    "leftanti",
    "anti",
    "cross",
]
"""The join types `DataFrame.join(how=...)` takes, as Spark spells them."""

DEFAULT_LOWER_BOUND = "60 seconds"
"""Laktory v0.0.22's default `time_constraint_interval_lower`."""
KEEPS_LEFT_ONLY = {"left_semi", "leftsemi", "semi", "left_anti", "leftanti", "anti"}
# Spark's structured streaming guide, "Support matrix for joins in streaming queries": with a
# stream on the left and a static right, inner, left outer and left semi are supported (right
# and full outer are not); a static left with a stream on the right is not either.
STREAM_STATIC_HOW = {"inner", "left", "left_outer", "leftouter", "left_semi", "leftsemi", "semi"}
# Stream-stream: inner, left/right/full outer and left semi, with watermarks and an event-time
# constraint for the outer and semi kinds (same guide).
STREAM_STREAM_HOW = set(get_args(JoinHow)) - {"left_anti", "leftanti", "anti", "cross"}


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class TableJoin(Model):
    """The rows built so far joined with another table, read with its own options.

    `on` columns keep the left side's values and drop the other side's copies; the other
    side's remaining columns are added, except its system columns (`_bronze_at`,
    `_silver_at`, `_silver_star_at`, `_gold_at`, `_tstamp`, `_rescued_data`, `_source_file`):
    a joined row keeps the left side's. Two columns of one name fail validation (`--deep`) at
    the join. When both sides stream, the join also bounds the event times of matching rows
    (`time_constraint_interval_*`) on the two watermarks.
    """

    model_config = ConfigDict(json_schema_extra=schema_with_aliases)

    other: TableSource = Field(
        description="The table to join: a table of this pipeline or a full catalog.schema.table "
        "name, with its own `selects` (a mapping renames), `filter`, `read_as_stream` (false: "
        "a stream-static join) and `watermark` (needed when both sides stream). Its system "
        "columns (`_bronze_at`, `_rescued_data`, `_source_file`, ...) are dropped: the joined "
        "row keeps the left side's."
    )
    left: Any = Field(
        default=None,
        description="Laktory v0.0.22's `left`, which its table builder always replaced with the "
        "rows built so far. The left side here is always those rows, so a value fails "
        "validation.",
    )
    on: list[str] = Field(
        default_factory=list,
        description="Columns equal on both sides; the other side's copies are dropped. A "
        "declared column named here is built before the join; a value failing its cast is "
        "NULL, matches nothing, and its row is kept by every kind of join, its raw value "
        "rescued (docs/joins.md).",
    )
    on_expression: str | None = Field(
        default=None,
        description="A SQL join condition instead of `on`, the two sides named `left` and "
        "`other`, e.g. `left.symbol = other.ticker`. Every column of both sides is kept, so "
        "names must not collide (rename with `other.selects`).",
    )
    how: Annotated[JoinHow, BeforeValidator(_lower)] = Field(
        default="left",
        description="Join type, as Spark names it: left (default), inner, right, full, "
        "left_semi, left_anti, cross, ...",
    )
    time_constraint_interval_lower: str | None = Field(
        default=None,
        description="Stream-stream joins: a left row matches other rows whose event time is at "
        "most this much later (`left.t >= other.t - interval`). Bounds the join's state. "
        "Default `60 seconds` (Laktory's) on stream-stream joins; other joins take none.",
        pattern=r"^\s*\d+\s+[A-Za-z]+(\s+\d+\s+[A-Za-z]+)*\s*$",
    )
    time_constraint_interval_upper: str | None = Field(
        default=None,
        description="Stream-stream joins: a left row matches other rows whose event time is at "
        "most this much earlier (`left.t <= other.t + interval`); unbounded when unset.",
        pattern=r"^\s*\d+\s+[A-Za-z]+(\s+\d+\s+[A-Za-z]+)*\s*$",
    )

    @model_validator(mode="before")
    @classmethod
    def _yaml_on_is_a_key(cls, data: object) -> object:
        # YAML 1.1 reads an unquoted `on:` key as the boolean true (the loader keeps keys as
        # written, but `yaml.safe_load` and `safe_dump` give True or `true`); in a join it can
        # only mean `on`.
        if isinstance(data, dict) and "on" not in data:
            keys = [key for key in data if key is True or key in ("True", "true")]
            if len(keys) == 1:
                data = {("on" if key in keys else key): value for key, value in data.items()}
        return data

    @model_validator(mode="after")
    def _left_is_the_rows_built(self) -> TableJoin:
        if self.left is not None:
            raise FieldError(
                "left",
                "the left side of a join is the rows the table has built so far (Laktory "
                "v0.0.22 replaced any value too); remove left",
            )
        return self

    @model_validator(mode="after")
    def _one_condition(self) -> TableJoin:
        if self.on and self.on_expression is not None:
            raise FieldError("on_expression", "a join takes on or on_expression, not both")
        if not self.on and self.on_expression is None and self.how != "cross":
            raise ValueError("a join needs on (columns) or on_expression (a SQL condition)")
        if self.other.cdc is not None:
            raise FieldError("other", "the other side of a join cannot be a cdc source")
        return self

    @model_validator(mode="after")
    def _selects_name_each_column_once(self) -> TableJoin:
        # `{a: x, b: x}` would give the other side two columns named x: a table holding both
        # cannot be written or read.
        selects = self.other.selects
        if isinstance(selects, dict):
            targets = [name.lower() for name in selects.values()]
            twice = sorted({name for name in selects.values() if targets.count(name.lower()) > 1})
            if twice:
                raise FieldError(
                    "other",
                    f"other.selects renames several columns to {', '.join(twice)}; each "
                    "column of the joined table needs its own name",
                )
        return self

    @property
    def lower_bound(self) -> str:
        """The lower time constraint of a stream-stream join."""
        return self.time_constraint_interval_lower or DEFAULT_LOWER_BOUND

    @property
    def keeps_left_only(self) -> bool:
        """Semi and anti joins return the left side's columns only."""
        return self.how in KEEPS_LEFT_ONLY
