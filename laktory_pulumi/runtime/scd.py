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
  current). A change equal to the open version in every tracked column (every column but the
  sequence, or `track_history_column_list`, or all but `track_history_except_column_list`)
  opens no version: it updates the open version in place, so a version shows its last change
  (SDP's own SCD 2 coalesces adjacent upserts equal on every tracked column into one record:
  https://issues.apache.org/jira/browse/SPARK-58452, "how the tracked set is used").

Changes DLT does not support are kept out of the target, the same way for SCD 1 and 2 ("There
should be one distinct update per key at each sequencing value, and NULL sequencing values are
unsupported", https://docs.databricks.com/en/delta-live-tables/cdc.html):

- a change whose sequence is NULL is never applied: it would open a version starting at NULL
  and sort before every other change. It stays in the change feed's source, where it landed;
- several changes of one key with the same sequence become one, by one rule: a delete wins
  over an upsert, and among upserts the one whose values, written as JSON, sort last. A change
  delivered again (same sequence, same values) is thus a no-op, and two conflicting changes
  give the same current row in SCD 1 and SCD 2 (SCD 2 used to close every re-delivered
  version at its own sequence, leaving the key without a current row).

Both are counted, and shown in a local run's summary as the WARN rules of the target
(`SEQUENCE_RULES`, from `sequence_checks`): `sequence_not_null` fails on a change whose
sequence is NULL, `one_change_per_sequence` on the changes of a key and sequence holding
different values (system columns such as `_source_file` aside, so a re-delivery passes).

The other options of `apply_changes`, with the meaning of DLT's Python reference
(https://learn.microsoft.com/azure/databricks/dlt-ref/dlt-python-ref-apply-changes):
`column_list` keeps only those columns; `ignore_null_updates` keeps a column's value when an
update brings null (here: since the key's last delete); `apply_as_truncates` empties the whole
table at that change's sequence (SCD type 1 only, as in DLT).

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
_IS_TRUNCATE = "__laktory_is_truncate"
_SEGMENT = "__laktory_segment"
_LAST_TRUNCATE = "__laktory_last_truncate"
_VERSION = "__laktory_version"
_NEXT = "__laktory_next"
_AT_SEQUENCE = "__laktory_at_sequence"
_SEQUENCE_SET = "__laktory_sequence_set"
_SEQUENCE_ALONE = "__laktory_sequence_alone"

SEQUENCE_RULES = {
    "sequence_not_null": f"`{_SEQUENCE_SET}`",
    "one_change_per_sequence": f"`{_SEQUENCE_ALONE}`",
}
"""Names and conditions of the checks `sequence_checks` computes, as WARN expectations."""
# Columns a pipeline adds to each row, which differ between two deliveries of one change.
_SYSTEM_COLUMNS = (
    "_source_file",
    "_rescued_data",
    "_bronze_at",
    "_silver_at",
    "_silver_star_at",
    "_gold_at",
    "_tstamp",
)
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
    column_list: Sequence[str] = field(default_factory=tuple)
    """The only columns kept (all when empty)."""
    ignore_null_updates: bool = False
    """A null in an update keeps the column's previous value (needs `column_list`)."""
    ignore_null_updates_column_list: Sequence[str] = field(default_factory=tuple)
    """The columns whose null in an update keeps their previous value."""
    apply_as_truncates: str | None = None
    """SQL condition marking a change as a truncate of the whole table (SCD type 1)."""
    track_history_column_list: Sequence[str] = field(default_factory=tuple)
    """SCD type 2: the only columns whose changes open a version (all when empty)."""

    def __post_init__(self) -> None:
        if self.ignore_null_updates and not self.column_list:
            # Filling each column needs its name, and a pipeline query function may not ask a
            # frame for its columns (see the module docstring).
            raise ValueError("ignore_null_updates needs column_list here")
        if self.apply_as_truncates and int(self.stored_as_scd_type) != 1:
            raise ValueError("apply_as_truncates applies to SCD type 1 only, as in DLT")


def sequence_arguments(
    sequence_by: str | Sequence[str],
    scd_type: int,
    except_columns: Sequence[str] = (),
    track_history_except: Sequence[str] = (),
    track_history_only: Sequence[str] = (),
) -> dict[str, Any]:
    """The `sequence_by` of `dlt.apply_changes` for a model's `cdc.sequence_by`, with what a
    sequence of several columns needs.

    Several columns become their struct, DLT's form for ordering by several columns (see the
    module docstring). For SCD type 2 they are also listed in
    `track_history_except_column_list`: like a single sequence column, which is never
    compared, their changes alone must not open a version, and a struct does not tell its
    fields' names without analysis. Columns left out of the target (`except_columns`) are not
    listed: the target has no such column to track.

    The model's `track_history_except` columns join that list; with `track_history_only`
    (DLT's `track_history_column_list`, which excludes the other list) only the listed columns
    are tracked, so the sequence columns need no exclusion.
    """
    arguments: dict[str, Any] = {
        "sequence_by": sequence_by if isinstance(sequence_by, str) else F.struct(*sequence_by)
    }
    if int(scd_type) != 2:
        return arguments
    if track_history_only:
        arguments["track_history_column_list"] = list(track_history_only)
        return arguments
    sequence_columns = [] if isinstance(sequence_by, str) else list(sequence_by)
    untracked = list(track_history_except)
    untracked += [name for name in sequence_columns if name not in untracked]
    kept = [name for name in untracked if name not in except_columns]
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
    column_list: Sequence[str] | None = None,
    ignore_null_updates: bool | None = None,
    apply_as_truncates: str | None = None,
    track_history_column_list: Sequence[str] | None = None,
    ignore_null_updates_column_list: Sequence[str] | None = None,
    **others: Any,
) -> ChangeSpec:
    """A `ChangeSpec` from the arguments of `dlt.apply_changes` (after target and source).

    An argument this module does not implement fails rather than being ignored.
    """
    unknown = sorted(name for name, value in others.items() if value is not None)
    if unknown:
        raise ValueError(f"apply_changes arguments not implemented locally: {unknown}")
    return ChangeSpec(
        keys=list(keys),
        sequence_by=sequence_by,
        stored_as_scd_type=int(stored_as_scd_type),
        apply_as_deletes=apply_as_deletes,
        except_column_list=tuple(except_column_list or ()),
        track_history_except_column_list=tuple(track_history_except_column_list or ()),
        column_list=tuple(column_list or ()),
        ignore_null_updates=bool(ignore_null_updates),
        apply_as_truncates=apply_as_truncates,
        track_history_column_list=tuple(track_history_column_list or ()),
        ignore_null_updates_column_list=tuple(ignore_null_updates_column_list or ()),
    )


def apply_changes(changes: DataFrame, spec: ChangeSpec) -> DataFrame:
    """The SCD table of a change feed (a batch frame of every change)."""
    return _applied(_marked(changes, spec), spec)


def apply_changes_of_feeds(feeds: Sequence[tuple[DataFrame, ChangeSpec]]) -> DataFrame:
    """The SCD table of several change feeds into one table (one change flow each in DLT).

    Each feed is marked with its own sequence, deletes and column options; then they are
    applied as one feed, so the latest change of a key wins whichever feed brought it (DLT's
    change flows into one target sequence every change by `sequence_by`). The feeds share the
    first one's keys, SCD type and history lists (`models.cdc_feeds` checks they agree).
    """
    marked = [_marked(frame, spec) for frame, spec in feeds]
    union = marked[0]
    for other in marked[1:]:
        union = union.unionByName(other, allowMissingColumns=True)
    return _applied(union, feeds[0][1])


def _marked(changes: DataFrame, spec: ChangeSpec) -> DataFrame:
    """The changes with their sequence and delete flag, less truncated and unkept columns."""
    sequence = F.expr(spec.sequence_by) if isinstance(spec.sequence_by, str) else spec.sequence_by
    # Sequence and flags are computed before `column_list` / `except_column_list` drop their
    # inputs.
    marked = changes.select(
        "*", sequence.alias(_SEQUENCE), _condition(spec.apply_as_deletes).alias(_IS_DELETE)
    ).where(F.col(_SEQUENCE).isNotNull())
    if spec.apply_as_truncates:
        truncates = marked.select("*", _condition(spec.apply_as_truncates).alias(_IS_TRUNCATE))
        marked = _after_last_truncate(truncates)
    if spec.column_list:
        kept = [F.col(_quoted(name)) for name in spec.column_list]
        marked = marked.select(*kept, _SEQUENCE, _IS_DELETE)
    else:
        marked = _all_but(marked, spec.except_column_list)
    return marked


def _applied(marked: DataFrame, spec: ChangeSpec) -> DataFrame:
    marked = _one_change_per_sequence(marked, spec.keys)
    if spec.ignore_null_updates or spec.ignore_null_updates_column_list:
        marked = _null_updates_ignored(marked, spec)
    if int(spec.stored_as_scd_type) == 1:
        return _latest_version(marked, spec.keys)
    return _history(marked, spec)


def sequence_checks(changes: DataFrame, spec: ChangeSpec) -> DataFrame:
    """For each change, whether its sequence is set and whether it is the only distinct change
    of its key at that sequence: the columns `SEQUENCE_RULES` read."""
    sequence = F.expr(spec.sequence_by) if isinstance(spec.sequence_by, str) else spec.sequence_by
    marked = changes.select("*", sequence.alias(_SEQUENCE))
    # `dropFields` ignores names the struct does not hold.
    values = F.to_json(F.struct("*").dropFields(_SEQUENCE, *_SYSTEM_COLUMNS))
    at_sequence = Window.partitionBy(*spec.keys, _SEQUENCE)
    distinct = F.size(F.collect_set(values).over(at_sequence))
    return marked.select(
        F.col(_SEQUENCE).isNotNull().alias(_SEQUENCE_SET),
        (F.col(_SEQUENCE).isNull() | (distinct <= 1)).alias(_SEQUENCE_ALONE),
    )


def _one_change_per_sequence(marked: DataFrame, keys: Sequence[str]) -> DataFrame:
    """One change per key and sequence value (see the module's docstring for the rule)."""
    at_sequence = Window.partitionBy(*keys, _SEQUENCE).orderBy(
        F.col(_IS_DELETE).desc(), F.to_json(F.struct("*")).desc()
    )
    ranked = marked.select("*", F.row_number().over(at_sequence).alias(_AT_SEQUENCE))
    return _all_but(ranked.where(F.col(_AT_SEQUENCE) == 1), [_AT_SEQUENCE])


def _condition(sql: str | None) -> Column:
    """A change flag from its SQL condition: false when unset or null."""
    return F.coalesce(F.expr(sql), F.lit(False)) if sql else F.lit(False)


def _after_last_truncate(marked: DataFrame) -> DataFrame:
    """The changes after the table's last truncate: a truncate empties the whole table, every
    key (DLT's `apply_as_truncates`), so nothing before it survives. Truncates are no rows."""
    last_truncate = F.max(F.when(F.col(_IS_TRUNCATE), F.col(_SEQUENCE))).over(Window.partitionBy())
    with_last = marked.select("*", last_truncate.alias(_LAST_TRUNCATE))
    kept = with_last.where(
        ~F.col(_IS_TRUNCATE)
        & (F.col(_LAST_TRUNCATE).isNull() | (F.col(_SEQUENCE) > F.col(_LAST_TRUNCATE)))
    )
    return _all_but(kept, [_IS_TRUNCATE, _LAST_TRUNCATE])


def _null_updates_ignored(marked: DataFrame, spec: ChangeSpec) -> DataFrame:
    """Each non-key column's last non-null value since the key's last delete: DLT's
    `ignore_null_updates` keeps the target's value where an update brings null, and a
    delete removes the row whose values would be kept."""
    in_sequence = Window.partitionBy(*spec.keys).orderBy(F.col(_SEQUENCE))
    segment = F.sum(F.col(_IS_DELETE).cast("int")).over(
        in_sequence.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    segmented = marked.select("*", segment.alias(_SEGMENT))
    since_delete = (
        Window.partitionBy(*spec.keys, _SEGMENT)
        .orderBy(F.col(_SEQUENCE))
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    names = spec.ignore_null_updates_column_list or [
        name for name in spec.column_list if name not in spec.keys
    ]
    filled = {
        # A delete's own values (a before-image) are not an update: never kept.
        name: F.last(F.when(~F.col(_IS_DELETE), F.col(_quoted(name))), ignorenulls=True).over(
            since_delete
        )
        for name in names
    }
    # `withColumns` keeps the columns' order; Spark Connect defers its analysis in a pipeline.
    return _all_but(segmented.withColumns(filled), [_SEGMENT])


def _latest_version(marked: DataFrame, keys: Sequence[str]) -> DataFrame:
    latest_first = Window.partitionBy(*keys).orderBy(F.col(_SEQUENCE).desc())
    ranked = marked.select("*", F.row_number().over(latest_first).alias(_RANK))
    latest = ranked.where((F.col(_RANK) == 1) & ~F.col(_IS_DELETE))
    return _all_but(latest, [_RANK, _SEQUENCE, _IS_DELETE])


def _tracked_values(spec: ChangeSpec) -> Column:
    """What a version is compared on: `track_history_column_list`, or every column but the
    sequence, the working flags and `track_history_except_column_list`."""
    if spec.track_history_column_list:
        return F.struct(*[F.col(_quoted(name)) for name in spec.track_history_column_list])
    # The sequence column differs in every change; comparing it would make each change a
    # version of its own.
    untracked = [_SEQUENCE, _IS_DELETE]
    named = [spec.sequence_by] if isinstance(spec.sequence_by, str) else []
    for name in [*named, *spec.track_history_except_column_list]:
        if (
            _IDENTIFIER.match(name)
            and name not in spec.except_column_list
            and (not spec.column_list or name in spec.column_list)
            and name not in untracked
        ):
            untracked.append(name)
    return F.struct("*").dropFields(*untracked)


def _history(marked: DataFrame, spec: ChangeSpec) -> DataFrame:
    in_sequence = Window.partitionBy(*spec.keys).orderBy(F.col(_SEQUENCE))
    with_values = marked.select("*", _tracked_values(spec).alias(_VALUES))
    previous_values = F.lag(F.col(_VALUES)).over(in_sequence)
    previous_was_delete = F.coalesce(F.lag(F.col(_IS_DELETE)).over(in_sequence), F.lit(False))
    # A version opens on an upsert that follows nothing, a delete, or different values.
    opens_version = ~F.col(_IS_DELETE) & (
        previous_values.isNull() | previous_was_delete | ~F.col(_VALUES).eqNullSafe(previous_values)
    )
    so_far = in_sequence.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    flagged = with_values.select(
        "*",
        opens_version.alias(_OPENS_VERSION),
        F.sum(opens_version.cast("int")).over(so_far).alias(_VERSION),
        # The change after this one; after a version's last change it is the next boundary
        # (a new version or a delete), which closes the version.
        F.lead(F.col(_SEQUENCE)).over(in_sequence).alias(_NEXT),
    )
    # Changes that open no version update the open one in place: it shows its last change.
    in_version = Window.partitionBy(*spec.keys, _VERSION)
    upserts = flagged.where(~F.col(_IS_DELETE))
    versions = upserts.select(
        "*",
        F.min(F.col(_SEQUENCE)).over(in_version).alias(START_AT),
        F.row_number().over(in_version.orderBy(F.col(_SEQUENCE).desc())).alias(_RANK),
    )
    latest = versions.where(F.col(_RANK) == 1).select("*", F.col(_NEXT).alias(END_AT))
    return _all_but(
        latest,
        [_SEQUENCE, _IS_DELETE, _VALUES, _OPENS_VERSION, _VERSION, _NEXT, _RANK],
    )


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _all_but(frame: DataFrame, names: Sequence[str]) -> DataFrame:
    """Every column of `frame` except `names` (which must exist)."""
    if not names:
        return frame
    quoted = ", ".join(_quoted(name) for name in names)
    return frame.selectExpr(f"* EXCEPT ({quoted})")
