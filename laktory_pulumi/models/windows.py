"""Keeping the first rows of each group (Laktory v0.0.22's `TableWindowFilter`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from .base import FieldError, Model


class OrderBy(Model):
    """One ordering of a window filter's groups."""

    sql_expression: str = Field(description="SQL expression to order by, e.g. `created_at`.")
    desc: bool = Field(default=False, description="Descending order (default ascending).")


class TableWindowFilter(Model):
    """Keep the first `rows_to_keep` rows of each partition, in the order given.

    A row number over a window, then a filter on it: Spark computes such windows on batch
    reads only, so the table must read its source whole (`read_as_stream: false`).
    """

    partition_by: list[str] = Field(
        description="Columns whose values form the groups.", min_length=1
    )
    order_by: list[OrderBy] = Field(
        description="Orderings within a group, the first one first (Spark numbers rows of an "
        "ordered window only).",
        min_length=1,
    )
    rows_to_keep: int = Field(default=1, ge=1, description="Rows kept per group.")
    descending: bool = Field(
        default=True,
        description="Laktory v0.0.22's `descending`, which its window filter never read (each "
        "`order_by` has its own `desc`). Accepted as true only; false fails validation, since "
        "it would change nothing.",
    )
    drop_row_index: bool = Field(
        default=True, description="Drop the row-number column once the rows are filtered."
    )
    row_index_name: str = Field(
        default="_row_index",
        min_length=1,
        description="Name of the row-number column (1 for the first row of a group).",
    )

    @model_validator(mode="after")
    def _descending_is_per_order_by(self) -> TableWindowFilter:
        if not self.descending:
            raise FieldError(
                "descending",
                "descending: false changes nothing (Laktory v0.0.22 never read it); set "
                "desc on each order_by instead",
            )
        return self
