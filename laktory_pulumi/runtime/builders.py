"""`TableBuilder.process`: a table's columns, system columns and transformations.

Everything a table declares becomes a handful of lazy DataFrame operations, in the order of
Laktory v0.0.22's `TableBuilder.process`: the declared columns a join uses as key, the joins,
the declared and system columns in one projection, the window filter, then filter,
drop_duplicates, selects and drop_columns. An aggregated table builds its columns from the
aggregated rows instead: joins, window filter, aggregation, post-aggregation joins, then the
projection. (Laktory tries each column at every step and keeps it where its inputs exist; that
needs the frame's columns, an analysis SDP refuses inside query functions, so each column here
has one place.) No action runs and nothing is collected, so the same code serves streams, batch
reads, Databricks DLT, local SDP runs and Spark Connect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .analysis import analysis_allowed, is_refused_analysis
from .casts import (
    cast_can_fail,
    cast_to,
    failing_casts,
    produces_rescued_data,
    rescued_sql,
    source_has_rescued_data,
    sql_name,
    sql_string,
    typed_columns,
    typed_sql,
)
from .deduplication import deduplication_deferred, drop_duplicates_on
from .joins import apply_joins
from .readers import RESCUED_DATA_COLUMN, SOURCE_FILE_COLUMN, selection
from .udfs import apply_transform, user_functions
from .value_args import with_laktory_values
from .windows import window_filter

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

    from ..models import Table
    from ..models.builder import Aggregate, Aggregation
    from ..models.column import Column, ColumnExpression

BRONZE_AT, SILVER_AT, GOLD_AT, TSTAMP = "_bronze_at", "_silver_at", "_gold_at", "_tstamp"
SILVER_STAR_AT = "_silver_star_at"
WINDOW_START, WINDOW_END = "window_start", "window_end"


class ColumnInputError(ValueError):
    """A declared column reads an input the source does not have."""

    def __init__(self, table: str, column: str, missing: str, existing: list[str]) -> None:
        self.table, self.column, self.missing, self.existing = table, column, missing, existing
        super().__init__(
            f"table {table}: column '{column}' reads '{missing}', which its input does not "
            f"have; existing columns: {', '.join(existing) or 'none'}"
        )


def process(table: Table, df: DataFrame) -> DataFrame:
    """The table built from its source frame `df`."""
    builder = table.builder
    if builder.joins:
        df, raw_keys = _with_join_keys(table, df)
        df = apply_joins(table, builder.joins, df, raw_keys=raw_keys)
    if builder.aggregation is not None:
        if builder.window_filter is not None:
            df = window_filter(builder.window_filter, df)
        df = aggregate(table, builder.aggregation, df)
        df = apply_joins(table, builder.joins_post_aggregation, df, "joins_post_aggregation")
        df = project(table, df)
    else:
        df = project(table, df)
        if builder.window_filter is not None:
            df = window_filter(builder.window_filter, df)
    df = apply_transform(table, df)
    if builder.filter:
        df = df.where(builder.filter)
    if builder.drop_duplicates and table.primary_key and not deduplication_deferred(table):
        df = _drop_duplicates(table, df)
    if builder.selects is not None:
        df = df.select(*selection(builder.selects), *_system_columns(table))
    if builder.drop_columns:
        # `* EXCEPT` rather than `drop`, which Spark Connect analyses when an SDP flow is defined.
        names = ", ".join("`" + name.replace("`", "``") + "`" for name in builder.drop_columns)
        df = df.selectExpr(f"* EXCEPT ({names})")
    return df


def _with_join_keys(table: Table, df: DataFrame) -> tuple[DataFrame, dict[str, SparkColumn]]:
    """The declared columns that a join names in `on`, built before the joins need them; and
    the raw value (before its cast) of each of those whose cast may fail.

    A key is cast as the projection casts it, with `try_cast`: under ANSI SQL a plain cast of
    one malformed key raised CAST_INVALID_INPUT and failed the table at every update. A key
    that fails its cast is NULL and matches nothing; the joins keep its row (`joins.apply_join`,
    from the raw values returned here) and the projection rescues its raw text, as for any
    other column.
    """
    keys = {key for join in table.builder.joins for key in join.on}
    udfs = user_functions(table)
    computed = [column for column in table.columns if column.name in keys and column.is_computed]
    raw = {column.name: expression(column, udfs) for column in computed}
    early = {
        column.name: raw[column.name].try_cast(column.type)
        if cast_can_fail(column.type)
        else cast_to(raw[column.name], column.type)
        for column in computed
    }
    fallible = {column.name: raw[column.name] for column in computed if cast_can_fail(column.type)}
    return (df.withColumns(early) if early else df), fallible


def project(table: Table, df: DataFrame) -> DataFrame:
    """Declared columns, cast to their types, and the layer's system columns: one projection.

    A value that fails its cast becomes NULL and is rescued (`casts`). When SQL can write
    every declared value (`raw_sql`), the projection is SQL text (`_projection_sql`): with
    classic Spark, each column expression built in Python is a round trip to the JVM and a
    capture of the Python call site, which made a wide table's plan cost twice a hand-written
    select; as text, the whole projection is one call. Otherwise it is built from column
    expressions (`casts.typed_columns`). Both compute the same columns, in the same order.
    """
    from pyspark.sql import functions as F

    udfs = user_functions(table)
    keeps_source = not table.builder.drops_source_columns or table.builder.aggregation is not None
    texts = _projection_sql(table, udfs)
    try:
        if texts is not None and not keeps_source:
            carried = [sql_name(name) for name in _carried_columns(table)]
            declared = [f"{text} AS {sql_name(name)}" for name, text in texts.declared.items()]
            rescue = [f"{text} AS {sql_name(RESCUED_DATA_COLUMN)}" for text in texts.rescued]
            stamps = [f"{text} AS {sql_name(name)}" for name, text in texts.system.items()]
            projected = df.selectExpr(*declared, *rescue, *carried, *stamps)
        else:
            if texts is not None:
                built = {name: F.expr(text) for name, text in texts.declared.items()}
                system = {name: F.expr(text) for name, text in texts.system.items()}
                rescued = F.expr(texts.rescued[0]) if texts.rescued else None
            else:
                raw = {column.name: expression(column, udfs) for column in table.columns}
                has_rescued = source_has_rescued_data(table)
                source_rescued = F.col(RESCUED_DATA_COLUMN) if has_rescued else None
                built, rescued = typed_columns(table, raw, source_rescued)
                system = _system_values(table, built)
            if rescued is not None:
                system = {RESCUED_DATA_COLUMN: rescued, **system}
            if keeps_source:
                # One projection that replaces same-named source columns and appends the
                # rest. An aggregation has already left only its own columns (and those its
                # post-aggregation joins add, which Laktory keeps).
                projected = df.withColumns({**built, **system})
            else:
                declared_columns = [value.alias(name) for name, value in built.items()]
                carried_columns = [F.col(name) for name in _carried_columns(table)]
                rescue_columns = [v.alias(n) for n, v in system.items() if n == RESCUED_DATA_COLUMN]
                stamp_columns = [v.alias(n) for n, v in system.items() if n != RESCUED_DATA_COLUMN]
                projected = df.select(
                    *declared_columns, *rescue_columns, *carried_columns, *stamp_columns
                )
        projected = with_field_metadata(projected, table.columns)
        if analysis_allowed() and table.columns:
            # Classic Spark analyses at `select`; Spark Connect only when asked.
            projected.schema  # noqa: B018
    except Exception as error:  # classic and Connect raise different exception types
        if is_refused_analysis(error):
            return projected
        if not _is_unresolved(error):
            raise
        _blame_a_column(table, df)
        raise
    return projected


@dataclass(frozen=True)
class ProjectionSql:
    """A table's projection as SQL text: typed declared columns, `_rescued_data` (none or
    one), and the layer's system columns, each by output name, in output order."""

    declared: dict[str, str]
    rescued: list[str]
    system: dict[str, str]


def _projection_sql(table: Table, udfs: Mapping[str, Callable[..., Any]]) -> ProjectionSql | None:
    """The projection as SQL text, None when a declared value is not written simply enough."""
    raw = {column.name: raw_sql(column, udfs) for column in table.columns}
    key = table.timestamp_key
    if any(text is None for text in raw.values()) or (key and key not in raw and "`" in key):
        return None
    values = {name: text or "" for name, text in raw.items()}
    declared = {
        column.name: typed_sql(values[column.name], column.type) for column in table.columns
    }
    casts = [(name, values[name], declared[name]) for name in failing_casts(table)]
    rescued = [rescued_sql(casts, source_has_rescued_data(table))] if casts else []
    return ProjectionSql(declared, rescued, _system_sql(table, declared))


def _system_sql(table: Table, declared: Mapping[str, str]) -> dict[str, str]:
    """`_system_values` as SQL text."""
    now = "current_timestamp()"
    stamps = {"BRONZE": BRONZE_AT, "GOLD": GOLD_AT, "SILVER_STAR": SILVER_STAR_AT}
    if table.layer in stamps:
        return {stamps[table.layer]: now}
    system: dict[str, str] = {}
    if table.timestamp_key:
        key = table.timestamp_key
        # The key usually names a declared column, which does not exist until this projection.
        value = declared[key] if key in declared else _sql_reference(key)
        system[TSTAMP] = f"try_cast(({value}) AS timestamp)"
    system[SILVER_AT] = now
    return system


SQL_FUNCTIONS = frozenset({"coalesce", "concat", "greatest", "least", "lower", "upper", "abs"})
"""Functions of `pyspark.sql.functions` taking only columns whose SQL function of the same name
computes the same value from the same arguments: a call of one can be written as SQL."""


def raw_sql(column: Column, udfs: Mapping[str, Callable[..., Any]]) -> str | None:
    """SQL text of a declared column's value before its cast, as `expression` computes it;
    None when the column is not written that simply (a UDF, another function, a keyword
    argument, a Python value)."""
    from ..models.column import LitArg, SqlArg

    if column.sql_expression is not None:
        return column.sql_expression
    name = column.spark_func_name
    if name is None:
        return _sql_reference(column.name)  # static data: the value is under its name
    if name not in SQL_FUNCTIONS or name in udfs or column.spark_func_kwargs:
        return None
    arguments = []
    for arg in column.spark_func_args:
        if isinstance(arg, str) and "`" not in arg:
            arguments.append(_sql_reference(arg))
        elif isinstance(arg, SqlArg):
            arguments.append(f"({arg.sql})")
        elif isinstance(arg, LitArg) and _sql_literal(arg.lit) is not None:
            arguments.append(_sql_literal(arg.lit) or "")
        else:
            return None
    return f"{name}({', '.join(arguments)})" if arguments else None


def _sql_reference(name: str) -> str:
    """A column name as `F.col` reads it (dots reach into structs), quoted as SQL."""
    return ".".join(sql_name(part) for part in name.split("."))


def _sql_literal(value: Any) -> str | None:
    """`F.lit(value)` as SQL: the same value and type, for text, integers and booleans."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return sql_string(value)
    return None


def with_field_metadata(df: DataFrame, columns: Sequence[Column | Aggregate]) -> DataFrame:
    """`df`, its columns with a `comment` or `unit` carrying them as Spark field metadata.

    A table's schema keeps its fields' metadata, so both reach the table: the catalog shows the
    comment as the column's comment (Hive locally, Unity Catalog on Databricks), and Parquet
    and Delta keep both with the schema. `withMetadata` rather than an alias's metadata: Spark
    Connect's `withColumns` drops the metadata of the columns it is given. Each call only
    relabels a column, and the optimizer collapses them into the projection before.
    """
    for column in columns:
        metadata = {
            key: value
            for key, value in (("comment", column.comment), ("unit", column.unit))
            if value
        }
        if metadata:
            df = df.withMetadata(column.name, metadata)
    return df


def expression(
    column: ColumnExpression, udfs: Mapping[str, Callable[..., Any]] | None = None
) -> SparkColumn:
    """The Spark column computing one declared value (before its cast).

    `spark_func_name` names one of the pipeline's `udfs` (first, as in Laktory) or a function of
    `pyspark.sql.functions`.
    """
    from pyspark.sql import functions as F

    if column.sql_expression is not None:
        return F.expr(column.sql_expression)
    if column.spark_func_name is None:
        # A column of static data: its value is already there, under its name.
        return F.col(getattr(column, "name", ""))
    function = (udfs or {}).get(column.spark_func_name) or getattr(F, column.spark_func_name, None)
    if function is None or not callable(function):
        raise ValueError(f"'{column.spark_func_name}' is not a function of pyspark.sql.functions")
    # A text `{value: X}` for a column parameter is Laktory's SQL expression (`value_args`).
    given, named = with_laktory_values(function, column.spark_func_args, column.spark_func_kwargs)
    args = [_argument(arg) for arg in given]
    kwargs = {key: _argument(arg) for key, arg in named.items()}
    return function(*args, **kwargs)


def aggregate(table: Table, aggregation: Aggregation, df: DataFrame) -> DataFrame:
    """Group-by (and time window) with the aggregates; window bounds as plain columns."""
    from pyspark.sql import functions as F

    keys: list[SparkColumn] = [F.col(name) for name in aggregation.groupby_columns]
    bounds: list[SparkColumn] = []
    window = aggregation.window
    if window is not None:
        keys.append(
            F.window(
                window.time_column,
                window.window_duration,
                window.slide_duration,
                window.start_time,
            ).alias("_window")
        )
        bounds = [
            F.col("_window.start").alias(WINDOW_START),
            F.col("_window.end").alias(WINDOW_END),
        ]
    udfs = user_functions(table)
    aggregates = [
        (expression(agg, udfs) if agg.type is None else expression(agg, udfs).cast(agg.type)).alias(
            agg.name
        )
        for agg in aggregation.aggregates
    ]
    grouped = df.groupBy(*keys).agg(*aggregates)
    groups = [F.col(name) for name in aggregation.groupby_columns]
    results = [F.col(agg.name) for agg in aggregation.aggregates]
    selected = grouped.select(*groups, *bounds, *results)
    return with_field_metadata(selected, aggregation.aggregates)


def _argument(arg: Any) -> Any:
    from pyspark.sql import functions as F

    from ..models.column import LitArg, SqlArg, ValueArg

    if isinstance(arg, str):
        return F.col(arg)
    if isinstance(arg, LitArg):
        return F.lit(arg.lit)
    if isinstance(arg, SqlArg):
        return F.expr(arg.sql)
    if isinstance(arg, ValueArg):
        return arg.value
    raise TypeError(f"unexpected function argument {arg!r}")


def _system_columns(table: Table) -> list[str]:
    """The system columns a table of this layer ends with."""
    layer = table.layer
    rescued = [RESCUED_DATA_COLUMN] if produces_rescued_data(table) else []
    if layer == "BRONZE":
        source_file = [SOURCE_FILE_COLUMN] if _has_source_file(table) else []
        return [*rescued, *source_file, BRONZE_AT]
    if layer == "SILVER_STAR":
        return [*rescued, SILVER_STAR_AT]
    if layer == "SILVER":
        timestamp = [TSTAMP] if table.timestamp_key else []
        return [*rescued, *_carried_columns(table), *timestamp, SILVER_AT]
    return [*rescued, GOLD_AT]


def _system_values(table: Table, built: dict[str, SparkColumn]) -> dict[str, SparkColumn]:
    from pyspark.sql import functions as F

    now = F.current_timestamp()
    if table.layer == "BRONZE":
        return {BRONZE_AT: now}
    if table.layer == "GOLD":
        return {GOLD_AT: now}
    if table.layer == "SILVER_STAR":
        return {SILVER_STAR_AT: now}
    system: dict[str, SparkColumn] = {}
    if table.timestamp_key:
        key = table.timestamp_key
        # The key usually names a declared column, which does not exist until this projection.
        system[TSTAMP] = (built[key] if key in built else F.col(key)).try_cast("timestamp")
    system[SILVER_AT] = now
    return system


def _carried_columns(table: Table) -> list[str]:
    """System columns of the upstream tables of this pipeline that pass through: `_bronze_at`,
    and `_source_file` (the landed file a row came from) so a rescued or quarantined row can be
    traced back to its file.

    A table of several sources (`table_sources`) writes every flow's rows into one table, so
    it carries a column only when each of its sources gives it.
    """
    builder = table.builder
    sources = builder.table_sources or ([builder.table_source] if builder.table_source else [])
    if table.layer != "SILVER" or not sources:
        return []
    tables = {t.name: t for t in table.pipeline.tables}
    upstreams = []
    for source in sources:
        upstream = tables.get(source.name)
        if source.is_external or source.selects or source.cdc is not None or upstream is None:
            return []
        if upstream.layer not in ("BRONZE", "SILVER"):
            return []
        upstreams.append(upstream)
    source_file = all(_has_source_file(upstream) for upstream in upstreams)
    return [BRONZE_AT, *([SOURCE_FILE_COLUMN] if source_file else [])]


def _has_source_file(table: Table) -> bool:
    """Whether the table as written has the `_source_file` of its rows."""
    events = [source for _, source in table.builder.located_event_sources()]
    if events:
        # A stream's records come from no file (its bronze columns: `runtime/stream_readers`);
        # every flow of a table of several sources must give the column for the table to have it.
        landed = all(not source.is_stream for source in events)
        return landed and not table.builder.drops_source_columns
    return SOURCE_FILE_COLUMN in _carried_columns(table)


def _drop_duplicates(table: Table, df: DataFrame) -> DataFrame:
    """Rows unique on the primary key; bounded by the watermark on a watermarked stream."""
    return drop_duplicates_on(table, df, table.primary_key or [])


# Input checks ------------------------------------------------------------------------------


def _blame_a_column(table: Table, source: DataFrame) -> None:
    """Raise `ColumnInputError` for the first declared column whose inputs do not resolve.

    Called only once the whole projection has failed, so the usual path pays for a single
    analysis; Spark's error names the missing input but not the column that reads it.
    """
    existing = _paths(source.schema)
    for column in table.columns:
        try:
            source.select(expression(column, user_functions(table))).schema  # noqa: B018
        except Exception as error:
            if not _is_unresolved(error):
                raise
            missing = _missing_input(column, source.schema, str(error))
            raise ColumnInputError(table.name, column.name, missing, existing) from None


def _is_unresolved(error: BaseException) -> bool:
    text = str(error)
    return any(kind in text for kind in ("UNRESOLVED_COLUMN", "FIELD_NOT_FOUND", "UNRESOLVED"))


def _missing_input(column: ColumnExpression, schema: StructType, message: str) -> str:
    """The input of `column` that does not resolve, as the YAML wrote it (`data.opne`).

    Column references are checked against the schema; inside SQL, Spark's message gives the
    unresolved name, matched back to the dotted name the expression wrote.
    """
    args = [*column.spark_func_args, *column.spark_func_kwargs.values()]
    for reference in (arg for arg in args if isinstance(arg, str)):
        if not _resolves(schema, reference):
            return reference
    quoted = re.search(r"(?:name|struct field) ((?:`[^`]+`\.?)+)", message)
    if quoted is None:
        return "?"
    name = re.findall(r"`([^`]+)`", quoted.group(1))
    sql = [column.sql_expression or "", *(arg.sql for arg in args if hasattr(arg, "sql"))]
    for token in re.findall(r"[A-Za-z_][\w.]*", " ".join(sql)):
        if token.split(".")[-1] == name[-1] and not _resolves(schema, token):
            return token
    return ".".join(name)


def _resolves(schema: StructType, reference: str) -> bool:
    """Whether a dotted reference names a column or a nested struct field."""
    from pyspark.sql.types import StructType

    current: Any = schema
    for part in reference.split("."):
        if not isinstance(current, StructType):
            return False
        fields = {field.name.lower(): field for field in current.fields}
        field = fields.get(part.strip("`").lower())
        if field is None:
            return False
        current = field.dataType
    return True


def _paths(schema: StructType, prefix: str = "") -> list[str]:
    """Every column and nested field, dotted: what a reference may name."""
    from pyspark.sql.types import StructType

    paths = []
    for field in schema.fields:
        path = prefix + field.name
        paths.append(path)
        if isinstance(field.dataType, StructType):
            paths.extend(_paths(field.dataType, path + "."))
    return paths
