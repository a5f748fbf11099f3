"""A table of a pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from .base import BackRef, FieldError, Model, UpperCase
from .builder import TableBuilder
from .column import Column

if TYPE_CHECKING:
    from .pipeline import Pipeline


class Expectation(Model):
    """A data quality rule, with DLT's semantics."""

    name: str = Field(description="Rule name, reported in the pipeline's metrics.", min_length=1)
    expression: str = Field(description="SQL condition every valid row meets, e.g. `open > 0`.")
    action: Annotated[Literal["WARN", "DROP", "FAIL"], UpperCase] = Field(
        default="WARN",
        description="WARN keeps failing rows and counts them; DROP removes them; FAIL stops the "
        "update.",
    )


class Table(Model):
    """A streaming table or materialized view of the pipeline."""

    name: str = Field(
        description="Table name, unique in the pipeline.",
        min_length=1,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
    )
    comment: str | None = Field(default=None, description="Table comment shown in the catalog.")
    timestamp_key: str | None = Field(
        default=None,
        description="Column (or nested field) holding the event time; copied to `_tstamp` on "
        "silver.",
    )
    primary_key: list[str] | None = Field(
        default=None,
        description="Column(s) identifying a row; a single name or a list. Used by "
        "drop_duplicates.",
    )
    columns: list[Column] = Field(default_factory=list, description="Columns to build.")
    builder: TableBuilder = Field(description="Source and transformations.")
    data: list[list[Any]] | None = Field(
        default=None,
        description="Static rows, one list of values per row in the order of `columns`, "
        "instead of a source: the table is a materialized view of these rows, each value cast "
        "to its column's type.",
    )
    expectations: list[Expectation] = Field(default_factory=list, description="Data quality rules.")
    quarantine: bool = Field(
        default=False,
        description="Write rows failing a DROP expectation to `<name>_quarantine`, with the "
        "names of the rules they failed.",
    )

    _pipeline: BackRef = PrivateAttr(default_factory=BackRef)

    @field_validator("primary_key", mode="before")
    @classmethod
    def _one_key_is_a_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _attach_builder(self) -> Table:
        self.builder._table = BackRef(self)
        return self

    @model_validator(mode="after")
    def _source_or_data(self) -> Table:
        if self.data is None:
            if not self.builder.has_source:
                raise FieldError(
                    "builder",
                    "exactly one of event_source or table_source is required (found none), "
                    "or static rows in the table's data",
                )
            return self
        if self.builder.has_source:
            raise FieldError("data", "a table of static data takes no event_source or table_source")
        if not self.columns:
            raise FieldError("data", "static data needs the table's columns, to name its values")
        for row in self.data:
            if len(row) != len(self.columns):
                raise FieldError(
                    "data",
                    f"each row of data has one value per column ({len(self.columns)}); found a "
                    f"row of {len(row)}",
                )
        return self

    @model_validator(mode="after")
    def _quarantine_needs_a_drop_rule(self) -> Table:
        if self.quarantine and not any(e.action == "DROP" for e in self.expectations):
            raise FieldError(
                "quarantine", "quarantine needs at least one expectation with action DROP"
            )
        return self

    @property
    def layer(self) -> str:
        """Medallion layer of the table."""
        return self.builder.layer

    @property
    def output_columns(self) -> list[str] | None:
        """Declared output columns, or None when they depend on the source."""
        if self.builder.aggregation is not None:
            return [*self.builder.aggregation.output_columns, *(c.name for c in self.columns)]
        if self.columns:
            return [column.name for column in self.columns]
        return None

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline this table belongs to."""
        if self._pipeline.target is None:
            raise RuntimeError(f"table {self.name} is not attached to a pipeline")
        return self._pipeline.target  # type: ignore[return-value]

    @property
    def quarantine_name(self) -> str:
        """Name of the table holding the rows that failed DROP expectations."""
        return f"{self.name}_quarantine"
