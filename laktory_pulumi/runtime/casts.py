"""Casts that never block a table: a value that fails its cast is kept, not raised.

Under ANSI SQL (Spark 4's default, and DLT's) `CAST('notatime' AS timestamp)` raises
CAST_INVALID_INPUT, so one bad event would fail its table at every update, forever: the row is
already in bronze. Declared columns are therefore cast with `try_cast` (NULL when the value does
not fit) and a value that was there before the cast and is NULL after it is a failed cast:

- its raw text goes to the table's `_rescued_data`, a JSON object `{column: raw value}`, merged
  with the rescued text the row already had (kept under the `_rescued_data` key). A row without a
  failed cast keeps its rescued text unchanged;
- on a table with `quarantine: true`, each such column is also a DROP rule named `cast:<column>`
  (`cast_rules`), so the row leaves the table for `<table>_quarantine` next to the rules it
  failed, with its raw value and its `_source_file`. A rule blames its column only where this
  table wrote it NULL: the rescued text a row came with (the JSON reader's corrupt-record text
  holds every field of a bad line) never blames a column whose cast held.

Everything here is column expressions for the table's one projection: nothing is collected and
no analysis runs, so the same code serves streams, Databricks and SDP's query functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models.sources import EventSource, TableSource
from .readers import RESCUED_DATA_COLUMN

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn

    from ..models import Table
    from ..models.table import Expectation

CAST_RULE_PREFIX = "cast:"
NEVER_FAILING_TYPES = frozenset({"string"})
"""Target types every value casts to: nothing to rescue (a cast to string cannot fail)."""


def cast_can_fail(type_name: str) -> bool:
    """Whether a cast to `type_name` may meet a value that does not fit (`_any` casts nothing)."""
    return type_name.strip().lower() not in NEVER_FAILING_TYPES and not is_no_cast(type_name)


def is_no_cast(type_name: str) -> bool:
    """Whether a column's type is Laktory's `_any`: the value keeps its own type."""
    from ..models.column import NO_CAST

    return type_name.strip() == NO_CAST


def cast_to(value: SparkColumn, type_name: str) -> SparkColumn:
    """`value` cast to a column's declared type; unchanged for `_any`."""
    return value if is_no_cast(type_name) else value.cast(type_name)


def failing_casts(table: Table) -> list[str]:
    """The declared columns whose cast may fail, in declaration order."""
    return [column.name for column in table.columns if cast_can_fail(column.type)]


def cast_rule_name(column: str) -> str:
    """The DROP rule a failed cast of `column` counts as on a quarantined table."""
    return f"{CAST_RULE_PREFIX}{column}"


def sql_name(name: str) -> str:
    """`name` quoted as one SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def sql_string(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cast_rule_expression(column: str, written_as: str | None = None) -> str:
    """SQL true on the rows whose own cast of `column` held.

    A cast failed where the table wrote the column NULL and its raw text is a key of
    `_rescued_data`. The key alone does not say it: a row with no failed cast keeps the
    rescued text it came with, and the JSON reader's corrupt-record text holds every field of
    the line, so a bad value in a field this table never reads would blame its columns too.
    `written_as` is the column's name in the table's output (None when `selects` or
    `drop_columns` leave it out: the key alone then decides). The test of the column comes
    first, so a row whose value is there never parses the rescued text. Written as SQL so that
    DLT's native expectations evaluate it on Databricks too.
    """
    rescued = f"from_json(`{RESCUED_DATA_COLUMN}`, 'map<string,string>')"
    failed_key = f"try_element_at({rescued}, {sql_string(column)}) IS NULL"
    if written_as is None:
        return failed_key
    return f"({sql_name(written_as)} IS NOT NULL OR {failed_key})"


def output_name(table: Table, column: str) -> str | None:
    """The name a declared column has in the table as written, None when it is left out."""
    builder = table.builder
    name: str | None = column
    if builder.selects is not None:
        if isinstance(builder.selects, dict):
            name = builder.selects.get(column)
        elif column not in builder.selects:
            name = None
    if name is not None and name in (builder.drop_columns or []):
        return None
    return name


def cast_rules(table: Table) -> list[Expectation]:
    """One DROP rule per cast that may fail, for a table with `quarantine: true`."""
    from ..models.table import Expectation

    if not table.quarantine:
        return []
    return [
        Expectation(
            name=cast_rule_name(name),
            expression=cast_rule_expression(name, output_name(table, name)),
            action="DROP",
        )
        for name in failing_casts(table)
    ]


def produces_rescued_data(table: Table) -> bool:
    """Whether the table's projection writes a `_rescued_data` column.

    It does when a declared cast may fail; a table keeping its source's columns also passes on
    the source's own rescued column, which the projection then merges into.
    """
    return bool(failing_casts(table))


def source_has_rescued_data(table: Table) -> bool:
    """Whether the frame `process` receives has a `_rescued_data` column, from the model alone.

    Decided without Spark (SDP refuses analysis inside query functions): JSON and CSV event
    files get one from the reader (Auto Loader's `rescuedDataColumn`, the file source's corrupt
    record column); a table of this pipeline has one when it writes or keeps one.
    """
    builder = table.builder
    if builder.aggregation is not None:
        return False  # the projection reads the aggregates, not the source's rows
    # A table of several sources processes each flow's frame alike: it counts on the column
    # only when every source gives it.
    return bool(builder.sources) and all(
        _gives_rescued_data(table, source) for source in builder.sources
    )


def _gives_rescued_data(table: Table, source: EventSource | TableSource) -> bool:
    """Whether the frames read from `source` have a `_rescued_data` column."""
    if isinstance(source, EventSource):
        return source.has_rescued_data
    if source.is_external or source.cdc is not None:
        return False
    if source.selects is not None:
        names = source.selects if isinstance(source.selects, list) else source.selects.values()
        if RESCUED_DATA_COLUMN not in names:
            return False
    upstream = {t.name: t for t in table.pipeline.tables}.get(source.name)
    return upstream is not None and table_has_rescued_data(upstream)


def table_has_rescued_data(table: Table) -> bool:
    """Whether the table as written has a `_rescued_data` column."""
    if produces_rescued_data(table):
        return True
    if table.builder.aggregation is not None or table.builder.selects is not None:
        return False
    return not table.builder.drops_source_columns and source_has_rescued_data(table)


def typed_columns(
    table: Table, raw: dict[str, SparkColumn], source_rescued: SparkColumn | None
) -> tuple[dict[str, SparkColumn], SparkColumn | None]:
    """Each declared value cast to its type, and the `_rescued_data` merging the failed casts.

    `raw` holds each column's value before its cast; `source_rescued` the rescued text the row
    already has (None when its source has none). The second result is None when the table
    writes no `_rescued_data`. Column expressions, for raw values SQL cannot write (a UDF, a
    function whose SQL form differs); otherwise `rescued_sql` builds the same rescue cheaper.
    """
    from pyspark.sql import functions as F

    types = {column.name: column.type for column in table.columns}
    typed = {
        name: value.try_cast(types[name])
        if cast_can_fail(types[name])
        else cast_to(value, types[name])
        for name, value in raw.items()
    }
    candidates = failing_casts(table)
    if not candidates:
        return typed, None
    failed = {name: raw[name].isNotNull() & typed[name].isNull() for name in candidates}
    pairs = []
    for name in candidates:
        pairs += [F.lit(name), F.when(failed[name], raw[name].cast("string"))]
    if source_rescued is not None:
        pairs += [F.lit(RESCUED_DATA_COLUMN), source_rescued.cast("string")]
    failures = F.map_filter(F.create_map(*pairs), lambda _key, value: value.isNotNull())
    any_failed = F.lit(False)
    for name in candidates:
        any_failed = any_failed | failed[name]
    kept = source_rescued.cast("string") if source_rescued is not None else F.lit(None)
    rescued = F.when(any_failed, F.to_json(failures)).otherwise(kept).cast("string")
    return typed, rescued


# SQL text of the rescue --------------------------------------------------------------------
#
# When every fallible cast's raw value can be written as SQL (`builders.raw_sql`), its typed
# value and the whole rescue are SQL text: one call to Spark per column and one for the rescue,
# where column expressions cost a call per operator and per column (with classic Spark, a round
# trip to the JVM each), so a wide table's plan costs about what a hand-written select does.
# The typed value the rescue tests is the same expression as the column written, which Spark's
# code generation computes once per row (subexpression elimination), so nothing is cast twice.
# Rows whose casts all hold pay two null tests per column; only a row with a failed cast builds
# the rescue map (the CASE's one branch).


def typed_sql(raw: str, type_name: str) -> str:
    """SQL of the value `raw` (SQL text) cast to a declared type: `try_cast` where a cast may
    fail, a plain cast where it cannot, the value itself for `_any`."""
    if is_no_cast(type_name):
        return raw
    if cast_can_fail(type_name):
        return f"try_cast(({raw}) AS {type_name})"
    return f"CAST(({raw}) AS {type_name})"


def _any_sql(conditions: list[str]) -> str:
    """The disjunction of `conditions`, as a balanced tree: a chain of hundreds of ORs would
    be a tree as deep, which the parser and analyser walk recursively."""
    if len(conditions) == 1:
        return conditions[0]
    middle = len(conditions) // 2
    return f"({_any_sql(conditions[:middle])} OR {_any_sql(conditions[middle:])})"


_JSON_OPTIONS = "map('ignoreNullFields', 'true')"
"""`to_json` leaves NULL fields out whatever the session's default says."""


def rescued_sql(casts: list[tuple[str, str, str]], source_rescued: bool) -> str:
    """SQL of the table's `_rescued_data`, from each fallible cast's (column, raw, typed) SQL.

    A row with a failed cast (a raw value there, its typed value NULL) gets the JSON object of
    its failed columns' raw text, with the text it already had under the `_rescued_data` key;
    any other row keeps its text unchanged. Only a row with a failed cast builds the object
    (the CASE's one branch); `to_json` leaves out the fields of the casts that held (NULL).
    """
    source = f"CAST({sql_name(RESCUED_DATA_COLUMN)} AS STRING)" if source_rescued else None
    kept = source or "CAST(NULL AS STRING)"
    fields = [
        f"{sql_string(name)}, IF({typed} IS NULL, CAST(({raw}) AS STRING), NULL)"
        for name, raw, typed in casts
    ]
    if source is not None:
        fields.append(f"{sql_string(RESCUED_DATA_COLUMN)}, {source}")
    failures = f"to_json(named_struct({', '.join(fields)}), {_JSON_OPTIONS})"
    guard = _any_sql([f"(({raw}) IS NOT NULL AND {typed} IS NULL)" for _, raw, typed in casts])
    return f"CASE WHEN {guard} THEN {failures} ELSE {kept} END"
