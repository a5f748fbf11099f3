"""What DLT's `apply_changes` keeps, computed from the whole change feed.

Spark Declarative Pipelines has the same API (`create_auto_cdc_flow`), but in pyspark 4.3 it
refuses any target that cannot MERGE (`AUTOCDC_TARGET_DOES_NOT_SUPPORT_MERGE`), and the only
local table format is parquet. So locally a CDC target is a materialized view over its change
feed, recomputed at each run from every change ever landed. The result is the one DLT converges
to, late (out-of-sequence) changes included, because nothing here depends on arrival order:

- SCD type 1: per key, the change with the highest `sequence_by`; no row when it is a delete.
  Several sequence columns are ordered as DLT orders them, by their struct: Spark compares
  structs field by field, so the first column decides and the next breaks its ties
  (https://docs.databricks.com/en/delta-live-tables/cdc.html, "sequence_by": to sequence by
  multiple columns, use a STRUCT).
- SCD type 2: per key, one row per version, with `__START_AT` (the sequence value that opened
  it) and `__END_AT` (the one that closed it: the next version or a delete; null while
  current). A change equal to the open version in every column but the sequence opens no
  version.

Nothing here reads a frame's columns: pipeline query functions may not trigger analysis
(`ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION`), so columns are handled with `*`. Columns are
removed with SQL's `* EXCEPT (...)`: `DataFrame.drop` makes the Spark Connect server analyse
the plan at definition, before the pipeline's tables exist (TABLE_OR_VIEW_NOT_FOUND).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

START_AT = "__START_AT"
END_AT = "__END_AT"

# Working columns, named so that no user column collides with them.
_SEQUENCE = "__laktory_sequence"
_IS_DELETE = "__laktory_is_delete"
_VALUES = "__laktory_values"
_OPENS_VERSION = "__laktory_opens_version"
_RANK = "__laktory_rank"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ChangeSpec:
    """How to apply a change feed: the arguments of DLT's `apply_changes`."""

    keys: Sequence[str]
    sequence_by: str | Column
    """A column name or SQL expression, or a Column (the struct of several columns)."""
    stored_as_scd_type: int = 1
    apply_as_deletes: str | None = None
    except_column_list: Sequence[str] = field(default_factory=tuple)
    track_history_except_column_list: Sequence[str] = field(default_factory=tuple)
    """SCD type 2: columns whose changes alone open no version."""


def sequence_arguments(
    sequence_by: str | Sequence[str], scd_type: int, except_columns: Sequence[str] = ()
) -> dict[str, Any]:
    """The `sequence_by` of `dlt.apply_changes` for a model's `cdc.sequence_by`, with what a
    sequence of several columns needs.

    Several columns become their struct, DLT's form for ordering by several columns (see the
    module docstring). For SCD type 2 they are also listed in
    `track_history_except_column_list`: like a single sequence column, which is never
    compared, their changes alone must not open a version, and a struct does not tell its
    fields' names without analysis. Columns left out of the target (`except_columns`) are not
    listed: the target has no such column to track.
    """
    if isinstance(sequence_by, str):
        return {"sequence_by": sequence_by}
    arguments: dict[str, Any] = {"sequence_by": F.struct(*sequence_by)}
    if int(scd_type) == 2:
        kept = [name for name in sequence_by if name not in except_columns]
        if kept:
            arguments["track_history_except_column_list"] = kept
    return arguments


def change_spec(
    keys: Sequence[str],
    sequence_by: str | Column,
    *,
    apply_as_deletes: str | None = None,
    except_column_list: Sequence[str] | None = None,
    stored_as_scd_type: int | str = 1,
    track_history_except_column_list: Sequence[str] | None = None,
    **_databricks_only: Any,
) -> ChangeSpec:
    """A `ChangeSpec` from the arguments of `dlt.apply_changes` (after target and source).

    Arguments that only Databricks' DLT implements (`track_history_column_list`, ...) are
    ignored here.
    """
    return ChangeSpec(
        keys=list(keys),
        sequence_by=sequence_by,
        stored_as_scd_type=int(stored_as_scd_type),
        apply_as_deletes=apply_as_deletes,
        except_column_list=tuple(except_column_list or ()),
        track_history_except_column_list=tuple(track_history_except_column_list or ()),
    )


def apply_changes(changes: DataFrame, spec: ChangeSpec) -> DataFrame:
    """The SCD table of a change feed (a batch frame of every change)."""
    is_delete = (
        F.coalesce(F.expr(spec.apply_as_deletes), F.lit(False))
        if spec.apply_as_deletes
        else F.lit(False)
    )
    sequence = F.expr(spec.sequence_by) if isinstance(spec.sequence_by, str) else spec.sequence_by
    # Sequence and delete flag are computed before `except_column_list` drops their inputs.
    marked = _all_but(
        changes.select("*", sequence.alias(_SEQUENCE), is_delete.alias(_IS_DELETE)),
        spec.except_column_list,
    )
    if int(spec.stored_as_scd_type) == 1:
        return _latest_version(marked, spec.keys)
    return _history(marked, spec)


def _latest_version(marked: DataFrame, keys: Sequence[str]) -> DataFrame:
    latest_first = Window.partitionBy(*keys).orderBy(F.col(_SEQUENCE).desc())
    ranked = marked.select("*", F.row_number().over(latest_first).alias(_RANK))
    latest = ranked.where((F.col(_RANK) == 1) & ~F.col(_IS_DELETE))
    return _all_but(latest, [_RANK, _SEQUENCE, _IS_DELETE])


def _history(marked: DataFrame, spec: ChangeSpec) -> DataFrame:
    in_sequence = Window.partitionBy(*spec.keys).orderBy(F.col(_SEQUENCE))
    # The sequence column differs in every change; comparing it would make each change a
    # version of its own.
    untracked = [_SEQUENCE, _IS_DELETE]
    named = [spec.sequence_by] if isinstance(spec.sequence_by, str) else []
    for name in [*named, *spec.track_history_except_column_list]:
        if (
            _IDENTIFIER.match(name)
            and name not in spec.except_column_list
            and name not in untracked
        ):
            untracked.append(name)
    values = F.struct("*").dropFields(*untracked)
    with_values = marked.select("*", values.alias(_VALUES))
    previous_values = F.lag(F.col(_VALUES)).over(in_sequence)
    previous_was_delete = F.coalesce(F.lag(F.col(_IS_DELETE)).over(in_sequence), F.lit(False))
    # A version opens on an upsert that follows nothing, a delete, or different values.
    opens_version = ~F.col(_IS_DELETE) & (
        previous_values.isNull() | previous_was_delete | ~F.col(_VALUES).eqNullSafe(previous_values)
    )
    flagged = with_values.select("*", opens_version.alias(_OPENS_VERSION))
    # A version ends where the next boundary of its key, a new version or a delete, begins.
    boundaries = flagged.where(F.col(_OPENS_VERSION) | F.col(_IS_DELETE))
    versions = boundaries.select(
        "*",
        F.col(_SEQUENCE).alias(START_AT),
        F.lead(F.col(_SEQUENCE)).over(in_sequence).alias(END_AT),
    )
    return _all_but(
        versions.where(F.col(_OPENS_VERSION)), [_SEQUENCE, _IS_DELETE, _VALUES, _OPENS_VERSION]
    )


def _all_but(frame: DataFrame, names: Sequence[str]) -> DataFrame:
    """Every column of `frame` except `names` (which must exist)."""
    if not names:
        return frame
    quoted = ", ".join("`" + name.replace("`", "``") + "`" for name in names)
    return frame.selectExpr(f"* EXCEPT ({quoted})")
