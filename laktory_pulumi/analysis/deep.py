"""Every table of a pipeline analysed by Spark, in build order, before anything runs.

Each table is defined the way the templates define it (`runtime.tables.define_table`: its
expectations, quarantine, change feed, append flows, SQL query or static rows), on
`AnalysisBackend`:
inputs are empty frames of the input schema (the declared `schema_ddl`, the sample files under
`--landing`, or the upstream table's analysed output), so the analysis is of the code that will
run. When a table fails, the pieces it is built from are analysed one by one to find the YAML
field at fault (a column, an expectation, a filter, an aggregate, the watermark), and the finding
carries that field's path for the loader to locate.

A table reading a catalog table is analysed on the columns its source declares (`schema_ddl`,
see `analysis/catalog.py`); without them it is not analysed, and a notice says so and why, for
it and for every table reading it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ..models import Pipeline, Table
from ..models.pipeline import table_reads
from ..models.sources import EventSource
from ..runtime import dlt
from ..runtime.builders import (
    BRONZE_AT,
    GOLD_AT,
    SILVER_AT,
    SILVER_STAR_AT,
    TSTAMP,
    ColumnInputError,
    aggregate,
    expression,
    process,
    project,
)
from ..runtime.casts import cast_to
from ..runtime.joins import DuplicateColumnsError
from ..runtime.readers import (
    LANDING_ROOT_KEY,
    RESCUED_DATA_COLUMN,
    SCHEMA_ROOT_KEY,
    SOURCE_FILE_COLUMN,
    SourceError,
)
from ..runtime.tables import define_table, source_frame
from ..runtime.udfs import user_functions
from .backend import AnalysisBackend, StreamingAppendRefused, UpstreamMissing, first_line
from .catalog import (
    CatalogStandIn,
    CatalogTableUnknown,
    catalog_sources,
    parse_schema,
    table_catalog_sources,
)

FieldPath = tuple[str | int, ...]

RUNTIME_COLUMNS = frozenset(
    {BRONZE_AT, SILVER_AT, SILVER_STAR_AT, GOLD_AT, TSTAMP, SOURCE_FILE_COLUMN, RESCUED_DATA_COLUMN}
    | {"__START_AT", "__END_AT"}  # an SCD 2 table's version bounds (DLT's names)
)
"""Columns the runtime writes itself: a table holding only these holds no data."""


@dataclass(frozen=True)
class Finding:
    """A problem of one table, at the path of the field at fault in the pipeline's file."""

    path: FieldPath
    message: str
    notice: bool = False
    """A table left unanalysed (its input columns are unknown): said, but not a failure."""


def analyse_pipeline(
    pipeline: Pipeline,
    spark: SparkSession,
    landing: Path | None = None,
    *,
    need_inputs: bool = True,
) -> list[Finding]:
    """Every problem Spark's analyser finds in the pipeline's tables (none: it will resolve).

    An event source with neither `schema_ddl` nor files under `landing` has no input schema:
    a finding when `need_inputs`, else its table and its readers are left unanalysed.
    """
    findings: list[Finding] = []
    with _analysis_session(spark, pipeline, landing) as backend:
        schemas, findings = _catalog_schemas(pipeline, spark)
        session: Any = CatalogStandIn(spark, schemas, backend.empty_folder)
        dlt.spark = session  # joins read their other side with it (restored on exit)
        unanalysed: set[str] = set()
        for index, table in _build_order(pipeline):
            finding = _analyse_table(
                index, table, session, backend, need_inputs, landing, unanalysed
            )
            if finding is not None:
                findings.append(finding)
    return findings


def _catalog_schemas(
    pipeline: Pipeline, spark: SparkSession
) -> tuple[dict[str, Any], list[Finding]]:
    """The declared schema of each catalog table read, and the declarations that are wrong."""
    schemas: dict[str, Any] = {}
    written: dict[str, str] = {}
    findings: list[Finding] = []
    for path, source in catalog_sources(pipeline):
        if source.schema_ddl is None:
            continue
        at = (*path, "schema_ddl")
        try:
            schema = parse_schema(spark, source.schema_ddl)
        except Exception as error:  # Spark's parse errors differ between versions
            findings.append(Finding(at, f"schema_ddl of {source.name}: {first_line(error)}"))
            schemas.setdefault(source.name, None)
            continue
        if schemas.get(source.name, schema) != schema:
            findings.append(
                Finding(
                    at,
                    f"catalog table {source.name} is declared with other columns elsewhere "
                    f"('{written[source.name]}'); declare it alike everywhere",
                )
            )
            continue
        schemas[source.name] = schema
        written[source.name] = source.schema_ddl
    return schemas, findings


@contextmanager
def _analysis_session(
    spark: SparkSession, pipeline: Pipeline, landing: Path | None
) -> Iterator[AnalysisBackend]:
    """The analysis backend installed, the landing root set, no kept schema written."""
    with tempfile.TemporaryDirectory(prefix="laktory-deep-") as folder:
        empty = Path(folder) / "empty"
        empty.mkdir()
        previous = {key: spark.conf.get(key, None) for key in (LANDING_ROOT_KEY, SCHEMA_ROOT_KEY)}
        spark.conf.set(LANDING_ROOT_KEY, str(_private_landing(pipeline, landing, Path(folder))))
        spark.conf.unset(SCHEMA_ROOT_KEY)
        previous_spark, dlt.spark = dlt.spark, spark
        backend = dlt.install_backend(AnalysisBackend(spark, empty))
        try:
            yield backend
        finally:
            dlt.install_backend(None)
            dlt.spark = previous_spark
            for key, value in previous.items():
                if value is None:
                    spark.conf.unset(key)
                else:
                    spark.conf.set(key, value)


def _private_landing(pipeline: Pipeline, landing: Path | None, folder: Path) -> Path:
    """A landing root holding every event folder: the sample folder under `landing` when there
    is one, else an empty folder (a source with `schema_ddl` needs no files to be analysed)."""
    root = folder / "landing"
    event_sources = [
        source
        for table in pipeline.tables
        for source in table.builder.sources
        if isinstance(source, EventSource)
    ]
    for source in event_sources:
        if source.events_root:
            continue
        private = Path(source.events_path(str(root)))
        if private.exists():
            continue
        private.parent.mkdir(parents=True, exist_ok=True)
        sample = Path(source.events_path(str(landing))) if landing is not None else None
        if sample is not None and sample.is_dir():
            private.symlink_to(sample.resolve(), target_is_directory=True)
        else:
            private.mkdir()
    return root


def _build_order(pipeline: Pipeline) -> list[tuple[int, Table]]:
    """Tables after the tables of this pipeline they read (file order otherwise)."""
    names = {table.name: index for index, table in enumerate(pipeline.tables)}
    ordered: list[tuple[int, Table]] = []
    placed: set[str] = set()

    def place(index: int, seen: frozenset[str]) -> None:
        table = pipeline.tables[index]
        if table.name in placed or table.name in seen:
            return
        for _, name in table_reads(table):  # sources, joins and SQL inputs
            if name in names:
                place(names[name], seen | {table.name})
        placed.add(table.name)
        ordered.append((index, table))

    for index in range(len(pipeline.tables)):
        place(index, frozenset())
    return ordered


def _analyse_table(
    index: int,
    table: Table,
    spark: SparkSession,
    backend: AnalysisBackend,
    need_inputs: bool,
    landing: Path | None,
    unanalysed: set[str],
) -> Finding | None:
    """The problem of one table, or a notice when its inputs' columns are unknown (the table
    then joins `unanalysed`)."""
    here: FieldPath = ("tables", index)
    try:
        define_table(table, spark)  # as the templates define it
    except CatalogTableUnknown as unknown:
        unanalysed.add(table.name)
        path = next(
            (p for p, source in table_catalog_sources(index, table) if source.name == unknown.name),
            here,
        )
        return Finding(
            path,
            f"table {table.name} was not analysed: it reads the catalog table {unknown.name}, "
            "whose columns are not declared; declare them in schema_ddl (e.g. 'id INT, "
            "ts TIMESTAMP') to analyse it",
            notice=True,
        )
    except UpstreamMissing as missing:
        upstream = missing.args[0] if missing.args else ""
        if upstream not in unanalysed:
            return None  # the upstream table's own finding says what to fix
        unanalysed.add(table.name)
        return Finding(
            here,
            f"table {table.name} was not analysed: it reads {upstream}, which was not analysed",
            notice=True,
        )
    except SourceError as error:
        if not need_inputs:
            return None
        message = str(error)
        source = table.builder.event_source
        if source is not None and not source.events_root:
            where = "give --landing with sample event files"
            if landing is not None:
                where = f"land sample files in {source.events_path(str(landing))}"
            message = (
                f"table {table.name}: no input schema to analyse: {where}, or declare "
                "event_source.schema_hints or schema_ddl"
            )
        field = "event_sources" if table.builder.event_sources else "event_source"
        return Finding((*here, "builder", field), message)
    except ColumnInputError as error:
        return Finding(_column_path(table, here, error.column), str(error))
    except DuplicateColumnsError as error:  # the joined or written columns, as Spark sees them
        return Finding((*here, *error.path), str(error))
    except StreamingAppendRefused as error:
        return _append_refused(table, here, str(error))
    except Exception as error:  # Spark's analysis errors differ between versions
        # Blame walks one source's pieces; a table of listed sources is reported whole.
        blamed = None if table.builder.appends else _blame(table, here, spark, backend)
        path, message = blamed or (here, first_line(error))
        return Finding(path, f"table {table.name}: {message}")
    return (
        _unresolved_expectation(table, here, backend)
        or _no_data_columns(table, here, backend)
        or _settings_columns(here, table, backend)
    )


def _unresolved_expectation(
    table: Table, here: FieldPath, backend: AnalysisBackend
) -> Finding | None:
    """An expectation whose expression does not resolve on the rows it checks.

    A DROP or FAIL rule filters the rows, so Spark analyses it with the table; a WARN rule only
    counts, and would fail only when DLT evaluates it. Each rule is analysed here on the
    dataset it is attached to: the table, or a CDC table's change feed.
    """
    source = table.builder.table_source
    checked = table.changes_view_name if source is not None and source.cdc else table.name
    frame = backend.frames.get(checked)
    if frame is None:
        return None
    for position, rule in enumerate(table.expectations):
        if rule.is_aggregate:
            continue  # analysed as an aggregate over the table (`_analyse_table`)
        failed = _fails(lambda rule=rule: frame.where(F.expr(rule.expression)))
        if failed is not None:
            return Finding(
                (*here, "expectations", position, "expression"),
                f"table {table.name}: expectation {rule.name}: {failed}",
            )
    return None


def _settings_columns(here: FieldPath, table: Table, backend: AnalysisBackend) -> Finding | None:
    """A clustering, partition, row filter or mask column the analysed table does not have
    (the load checks them only where the YAML alone says which columns the table has)."""
    from ..models.table_settings import missing_setting_columns

    frame = backend.frames.get(table.name)
    if frame is None:
        return None
    problems = missing_setting_columns(here, table, list(frame.columns))
    return Finding(*problems[0]) if problems else None


def _no_data_columns(table: Table, here: FieldPath, backend: AnalysisBackend) -> Finding | None:
    """A table whose analysed output has only the runtime's columns writes empty rows (a silver
    table declaring no columns drops every source column by default, as Laktory's does)."""
    frame = backend.frames.get(table.name)
    if frame is None or any(name not in RUNTIME_COLUMNS for name in frame.columns):
        return None
    builder = table.builder
    dropped = builder.drops_source_columns
    field = "drop_source_columns" if builder.drop_source_columns else "layer"
    if not dropped:
        return Finding(here, f"table {table.name} has no data columns; declare its columns")
    return Finding(
        (*here, "builder", field),
        f"table {table.name} drops its source's columns (the {table.layer} default) and "
        f"declares none: it would write only {', '.join(frame.columns)}; declare its columns, "
        "or set builder.drop_source_columns: false to keep the source's",
    )


def _append_refused(table: Table, here: FieldPath, spark_message: str) -> Finding:
    if table.builder.aggregation is not None:
        return Finding(
            (*here, "builder", "aggregation"),
            f"table {table.name}: a streaming aggregation needs a watermark, because Spark "
            "writes streaming tables in append mode and emits a group only once the watermark "
            "has passed it; add builder.table_source.watermark (a timestamp column of the "
            "source and a threshold) or read the source whole (read_as_stream: false) "
            f"[{spark_message}]",
        )
    return Finding(
        (*here, "builder"), f"table {table.name}: Spark refuses this stream: {spark_message}"
    )


def _column_path(table: Table, here: FieldPath, name: str) -> FieldPath:
    for position, column in enumerate(table.columns):
        if column.name == name:
            field = "sql_expression" if column.sql_expression is not None else "spark_func_args"
            return (*here, "columns", position, field)
    return (*here, "columns")


def _fails(build: Callable[[], Any]) -> str | None:
    """Spark's message when building (and analysing) a frame fails, else None."""
    try:
        frame = build()
        if isinstance(frame, DataFrame):
            frame.schema  # noqa: B018
    except UpstreamMissing:
        return None
    except Exception as error:
        return first_line(error)
    return None


def _blame(
    table: Table, here: FieldPath, spark: SparkSession, backend: AnalysisBackend
) -> tuple[FieldPath, str] | None:
    """The field at fault, found by analysing the table's pieces in the order they apply."""
    builder = table.builder
    udfs = user_functions(table)
    source = builder.table_source
    if source is not None:
        read = backend.read_stream if source.read_as_stream else backend.read
        if source.is_external:  # the declared catalog table (`CatalogStandIn`)
            reader = spark.readStream if source.read_as_stream else spark.read
            read = reader.table
        at = (*here, "builder", "table_source")
        if source.watermark is not None and source.read_as_stream:
            column, threshold = source.watermark.column, source.watermark.threshold
            failed = _fails(lambda: read(source.name).withWatermark(column, threshold))
            if failed is not None:
                return (*at, "watermark", "column"), _watermark_message(table, column, failed)
        if source.filter:
            failed = _fails(lambda: read(source.name).where(source.filter))
            if failed is not None:
                return (*at, "filter"), failed
        if source.selects is not None:
            failed = _fails(lambda: source_frame(table, spark))
            if failed is not None:
                return (*at, "selects"), failed
    try:
        frame = source_frame(table, spark)
    except Exception as error:
        return _source_path(table, here), first_line(error)
    aggregation = builder.aggregation
    if aggregation is not None:
        at = (*here, "builder", "aggregation")
        for position, name in enumerate(aggregation.groupby_columns):
            failed = _fails(lambda name=name: frame.select(F.col(name)))
            if failed is not None:
                return (*at, "groupby_columns", position), failed
        if aggregation.window is not None:
            time_column = aggregation.window.time_column
            failed = _fails(lambda: frame.select(F.window(time_column, "1 day")))
            if failed is not None:
                return (*at, "window", "time_column"), failed
        for position, agg in enumerate(aggregation.aggregates):
            failed = _fails(lambda agg=agg: frame.groupBy().agg(expression(agg, udfs)))
            if failed is not None:
                field = "sql_expression" if agg.sql_expression is not None else "spark_func_args"
                return (*at, "aggregates", position, field), f"aggregate '{agg.name}': {failed}"
        frame = aggregate(table, aggregation, frame)
    for column in table.columns:
        failed = _fails(lambda column=column: frame.select(expression(column, udfs)))
        if failed is None:
            failed = _fails(
                lambda column=column: frame.select(cast_to(expression(column, udfs), column.type))
            )
        if failed is not None:
            return _column_path(table, here, column.name), f"column '{column.name}': {failed}"
    if builder.filter:
        projected = project(table, frame)
        failed = _fails(lambda: projected.where(builder.filter))
        if failed is not None:
            return (*here, "builder", "filter"), failed
    output = None
    try:
        output = process(table, source_frame(table, spark))
        output.schema  # noqa: B018
    except Exception as error:
        where = (*here, "builder", "selects") if builder.selects is not None else (*here, "builder")
        return where, first_line(error)
    cdc = source.cdc if source is not None else None
    if cdc is not None:
        at = (*here, "builder", "table_source", "cdc", "sequence_by")
        names = cdc.sequence_by if isinstance(cdc.sequence_by, list) else [cdc.sequence_by]
        for position, name in enumerate(names):
            failed = _fails(lambda name=name: output.select(F.expr(name)))
            if failed is not None:
                where = (*at, position) if isinstance(cdc.sequence_by, list) else at
                return where, f"sequence_by '{name}': {failed}"
    for position, rule in enumerate(table.expectations):
        # An AGGREGATE rule is checked over the whole table (`<table>_aggregate_checks`).
        check = output.agg if rule.is_aggregate else output.where
        failed = _fails(lambda rule=rule, check=check: check(F.expr(rule.expression)))
        if failed is not None:
            return (
                *here,
                "expectations",
                position,
                "expression",
            ), f"expectation {rule.name}: {failed}"
    return None


def _source_path(table: Table, here: FieldPath) -> FieldPath:
    """The field a table's rows come from: its query, its rows, or its builder's source."""
    if table.sql is not None:
        return (*here, "sql")
    if table.data is not None:
        return (*here, "data")
    source = "event_source" if table.builder.table_source is None else "table_source"
    return (*here, "builder", source)


def _watermark_message(table: Table, column: str, failed: str) -> str:
    declared = {c.name for c in table.columns}
    if column in declared:
        return (
            f"watermark column '{column}' is a column this table declares; a watermark applies "
            "to the source as it is read, before the table's columns exist: name a timestamp "
            f"column of the source table [{failed}]"
        )
    return f"watermark column '{column}': {failed}"
