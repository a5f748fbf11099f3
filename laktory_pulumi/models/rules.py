"""Pipeline rules against silent overwrites, silent no-ops and names Databricks rejects.

Each rule returns `(path, message)` pairs, as `Pipeline.rule_violations` does, so that the
loader points at the line of the field to blame. They live here rather than in `pipeline.py`
to keep that file to the model itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .names import SYSTEM_COLUMNS, name_problem, segment_problem
from .stream_sources import stream_source_rules

if TYPE_CHECKING:
    from .pipeline import Pipeline

Path = tuple[str | int, ...]
Problems = list[tuple[Path, str]]


def pipeline_rules(pipeline: Pipeline) -> Problems:
    """Every rule of this module, in file order of the fields they blame."""
    return [
        *_names(pipeline),
        *_libraries(pipeline),
        *_unique_columns_and_expectations(pipeline),
        *_generated_names(pipeline),
        *_quarantine_is_built(pipeline),
        *_streams_of_append_only_tables(pipeline),
        *_sql_reads_own_tables_unqualified(pipeline),
        *_runtime_settable_configuration(pipeline),
        *_rescued_data_kept(pipeline),
        *stream_source_rules(pipeline),
    ]


def _names(pipeline: Pipeline) -> Problems:
    problems: Problems = []
    segment = segment_problem(pipeline.name)
    if segment:
        problems.append((("name",), f"pipeline name {segment}"))
    for field in ("catalog", "target"):
        value = getattr(pipeline, field)
        problem = name_problem(value) if value is not None else None
        if problem:
            problems.append(((field,), f"{field} '{_short(value)}' {problem}"))
    for index, table in enumerate(pipeline.tables):
        problem = name_problem(table.name)
        if problem:
            problems.append((("tables", index, "name"), f"table name {problem}"))
        for position, column in enumerate(table.columns):
            problem = name_problem(column.name)
            if column.name.casefold() in SYSTEM_COLUMNS:
                problem = "is a column the runtime adds itself; give the column another name"
            if problem:
                problems.append(
                    (
                        ("tables", index, "columns", position, "name"),
                        f"column name '{_short(column.name)}' {problem}",
                    )
                )
        # Each event source's producer and name are folders of the landing root, one or several
        # sources alike (`event_source`, `event_sources[i]`).
        for source_path, events in table.builder.located_event_sources():
            named: list[tuple[tuple[str | int, ...], str]] = [((*source_path, "name"), events.name)]
            if events.producer is not None:  # optional, as in Laktory v0.0.22
                named.insert(0, ((*source_path, "producer", "name"), events.producer.name))
            for path, value in named:
                problem = segment_problem(value)
                if problem:
                    problems.append((("tables", index, *path), f"name {problem}"))
    return problems


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def library_path_problem(path: str) -> str | None:
    """Why a library path cannot be deployed, or None.

    Workspace paths are absolute (DLT resolves notebook libraries from the workspace root), and a
    `..` or `.` segment could reach outside the uploaded `notebooks/` folder.
    """
    if not path.startswith("/"):
        return f"'{path}' is relative; a library path starts with '/' (e.g. /pipelines/x.py)"
    if any(part in (".", "..") for part in path.split("/")):
        return f"'{path}' holds a '.' or '..' segment; write the path without them"
    if "\\" in path or "\x00" in path:
        return f"'{path}' holds a backslash or NUL character"
    return None


def _libraries(pipeline: Pipeline) -> Problems:
    problems: Problems = []
    # `libraries: []` with tables is refused by the loader (`loader/libraries.py`): only the
    # YAML says whether the list was written empty; a metadata file always writes it.
    for index, library in enumerate(pipeline.libraries):
        kind = "notebook" if library.notebook is not None else "file"
        problem = library_path_problem(library.path)
        if problem:
            problems.append((("libraries", index, kind, "path"), problem))
    return problems


def _unique_columns_and_expectations(pipeline: Pipeline) -> Problems:
    """Two columns or two expectations of one name: the later would silently replace the earlier.

    Column names compare case-insensitively, as Spark's analyser and Unity Catalog do.
    """
    problems: Problems = []
    for index, table in enumerate(pipeline.tables):
        seen: dict[str, int] = {}
        for position, column in enumerate(table.columns):
            key = column.name.casefold()
            if key in seen:
                problems.append(
                    (
                        ("tables", index, "columns", position, "name"),
                        f"column '{column.name}' is declared twice in {table.name} (first at "
                        f"columns[{seen[key]}])",
                    )
                )
            seen.setdefault(key, position)
        rules: dict[str, int] = {}
        for position, expectation in enumerate(table.expectations):
            if expectation.name in rules:
                problems.append(
                    (
                        ("tables", index, "expectations", position, "name"),
                        f"expectation '{expectation.name}' is declared twice in {table.name} "
                        f"(first at expectations[{rules[expectation.name]}]); DLT keeps only "
                        "one rule per name",
                    )
                )
            rules.setdefault(expectation.name, position)
    return problems


def _generated_names(pipeline: Pipeline) -> Problems:
    """Every dataset the runtime defines (tables, quarantine tables, change views) is unique."""
    owners: dict[str, str] = {}
    for table in pipeline.tables:
        owners.setdefault(table.name.casefold(), f"table {table.name}")
    problems: Problems = []
    for index, table in enumerate(pipeline.tables):
        for generated, field, what in table.generated_datasets:
            path: Path = ("tables", index, *field)
            key = generated.casefold()
            if key in owners:
                problems.append(
                    (
                        path,
                        f"{table.name}'s {what} '{generated}' has the name of {owners[key]}; "
                        "rename one of them",
                    )
                )
                continue
            owners[key] = f"{what} of {table.name}"
            problem = name_problem(generated)
            if problem:
                problems.append((path, f"{table.name}'s {what} '{_short(generated)}' {problem}"))
    return problems


QUARANTINED_LAYERS = ("BRONZE", "SILVER")
"""The layers whose template builds `<table>_quarantine`."""


def _quarantine_is_built(pipeline: Pipeline) -> Problems:
    """Quarantine is refused where no template builds it: it would silently do nothing.

    The bronze and silver templates define `<table>_quarantine` (`runtime.tables.define_table`:
    on bronze, the failing events keep their `_source_file`); not the gold one. A CDC table's
    quarantine takes the changes its rules drop before `apply_changes` (`runtime/quarantine.py`).
    """
    problems: Problems = []
    for index, table in enumerate(pipeline.tables):
        if not table.quarantine:
            continue
        if table.layer not in QUARANTINED_LAYERS:
            reason = (
                f"this table is {table.layer}; only BRONZE and SILVER tables get a quarantine table"
            )
            problems.append((("tables", index, "quarantine"), f"quarantine is not built: {reason}"))
    return problems


def _appends_only(table: object) -> bool:
    """Whether DLT writes the table by appending rows only (a streaming table fed by appends).

    A `sql:` table, a table of static `data` and a table that reads its source whole are
    materialized views (recomputed); a CDC target is updated and deleted by `apply_changes`.
    """
    builder = table.builder  # type: ignore[attr-defined]
    if table.sql is not None or table.data is not None:  # type: ignore[attr-defined]
        return False
    if builder.appends:
        return not any(source.cdc for source in builder.table_sources or [])
    if builder.event_source is not None:
        return builder.event_source.read_as_stream and builder.event_source.snapshots is None
    source = builder.table_source
    return (
        source is not None
        and source.cdc is None
        and source.snapshots is None
        and source.read_as_stream
    )


def _streams_of_append_only_tables(pipeline: Pipeline) -> Problems:
    """A stream reads appended rows only, so its source must be append-only.

    Databricks docs ("AUTO CDC advanced topics": "streaming requires append-only data
    sources"; a source with updates needs `skipChangeCommits`, which drops those changes). A
    materialized view is recomputed whole at each update, so a stream of it reads its rows
    again (issue #24: a stream of a `sql:` table doubled rows); a CDC target is rewritten by
    `apply_changes`. Both are refused here; read such a table whole (`read_as_stream: false`),
    or, for a CDC target (a streaming table DLT updates and deletes in), stream it with
    `skip_change_commits` (Delta's `skipChangeCommits`: "ignores transactions that delete or
    modify existing records", Databricks docs, "Delta table streaming reads and writes").
    A materialized view is rewritten at each update: skipping its change commits would read
    nothing after its first update, so it stays refused.
    """
    tables = {table.name: table for table in pipeline.tables}
    problems: Problems = []
    for index, table in enumerate(pipeline.tables):
        builder = table.builder
        reads = [(("builder", "table_source"), builder.table_source)]
        reads += [
            (("builder", "table_sources", position), source)
            for position, source in enumerate(builder.table_sources or [])
        ]
        reads += [
            (("builder", "joins", position, "other"), join.other)
            for position, join in enumerate(builder.joins)
        ]
        for path, source in reads:
            if source is None or not source.read_as_stream or source.is_external:
                continue
            if source.snapshots is not None:  # a snapshot is read whole
                continue
            upstream = tables.get(source.name)
            if upstream is None or _appends_only(upstream):
                continue
            skips = getattr(source, "skip_change_commits", False)
            if skips and _is_cdc_target(upstream):
                continue  # DLT streams its commits that only add rows
            if skips:
                problems.append(
                    (
                        ("tables", index, *path, "skip_change_commits"),
                        f"{table.name} streams {source.name} skipping its change commits, but "
                        f"{_why_not_appended(upstream)}: every update rewrites it, so the "
                        "stream would skip every commit after the first; read it whole with "
                        "read_as_stream: false",
                    )
                )
                continue
            problems.append(
                (
                    ("tables", index, *path, "read_as_stream"),
                    f"{table.name} streams {source.name}, which is not append-only "
                    f"({_why_not_appended(upstream)}): a stream would read its rewritten rows "
                    "again, and DLT refuses it; read it whole with read_as_stream: false",
                )
            )
    return problems


def _is_cdc_target(table: object) -> bool:
    if table.sql is not None or table.data is not None:  # type: ignore[attr-defined]
        return False
    source = table.builder.table_source  # type: ignore[attr-defined]
    return source is not None and source.cdc is not None


def _why_not_appended(table: object) -> str:
    source = table.builder.table_source  # type: ignore[attr-defined]
    if table.sql is not None:  # type: ignore[attr-defined]
        return "a sql table is a materialized view, recomputed at each update"
    if table.data is not None:  # type: ignore[attr-defined]
        return "a table of static data is a materialized view"
    if source is not None and source.cdc is not None:
        return "a CDC target is updated and deleted by apply_changes"
    if table.builder.appends or any(  # type: ignore[attr-defined]
        source.snapshots
        for source in table.builder.sources  # type: ignore[attr-defined]
    ):
        return "a CDC target is updated and deleted by its change flows"
    return "it reads its source whole, so it is a materialized view, recomputed at each update"


def _sql_reads_own_tables_unqualified(pipeline: Pipeline) -> Problems:
    """A `sql:` query names the pipeline's tables by their bare name.

    Only bare names are datasets of the pipeline's graph (read through the pipeline, after the
    table is written); `target.table` names the published table in the catalog, which DLT
    does not treat as a dependency and a local run cannot resolve.
    """
    names = {table.name.casefold() for table in pipeline.tables}
    own = {part.casefold() for part in (pipeline.target, pipeline.catalog) if part}
    problems: Problems = []
    for index, table in enumerate(pipeline.tables):
        for name in table.sql_inputs or []:
            *qualifier, last = name.split(".")
            if not qualifier or last.casefold() not in names:
                continue
            if all(part.casefold() in own for part in qualifier):
                problems.append(
                    (
                        ("tables", index, "sql"),
                        f"the query names {name}, a table of this pipeline, by its catalog "
                        f"name; name it {last}: only a bare name reads it through the pipeline "
                        "(after it is written in the same update)",
                    )
                )
    return problems


STATIC_SPARK_CONFS = frozenset(
    {
        "spark.sql.warehouse.dir",
        "spark.sql.catalogImplementation",
        "spark.sql.extensions",
        "spark.sql.globalTempDatabase",
        "spark.sql.queryExecutionListeners",
        "spark.sql.streaming.streamingQueryListeners",
        "spark.sql.cache.serializer",
        "spark.sql.hive.metastore.version",
        "spark.sql.hive.metastore.jars",
        "spark.sql.sources.disabledJdbcConnProviderList",
        "spark.sql.legacy.sessionInitWithConfigDefaults",
        "spark.sql.ui.retainedExecutions",
        "spark.sql.event.truncate.length",
    }
)
"""Spark SQL configurations fixed when the session starts (Spark's `StaticSQLConf`,
sql/catalyst/src/main/scala/org/apache/spark/sql/internal/StaticSQLConf.scala): setting one on
a running session fails with CANNOT_MODIFY_CONFIG (`RuntimeConfig.set` refuses static keys)."""

_CORE_PREFIXES = ("spark.driver.", "spark.executor.", "spark.master", "spark.jars", "spark.app.")
"""Spark core settings read once when the application starts (the cluster's, not a pipeline's)."""


def _runtime_settable_configuration(pipeline: Pipeline) -> Problems:
    """`configuration` is set on the pipeline's session, where static settings cannot change."""
    problems: Problems = []
    for key in pipeline.configuration:
        static = key in STATIC_SPARK_CONFS or key.startswith(_CORE_PREFIXES)
        if static:
            problems.append(
                (
                    ("configuration", key),
                    f"'{key}' is a static Spark setting, fixed when the session starts: the "
                    "pipeline's configuration cannot change it (CANNOT_MODIFY_CONFIG); set it "
                    "on the cluster (clusters[].spark_conf) or remove it",
                )
            )
    return problems


_CORRUPT_RECORD_OPTION = "columnnameofcorruptrecord"


def _rescued_data_kept(pipeline: Pipeline) -> Problems:
    """Bad records are kept in `_rescued_data` (Auto Loader's `rescuedDataColumn` on
    Databricks, the file source's corrupt-record column locally, `runtime/readers.py`); a
    `columnNameOfCorruptRecord` read option would move them to another column, and every table
    reading the source would then miss `_rescued_data`."""
    problems: Problems = []
    for index, table in enumerate(pipeline.tables):
        for path, source in table.builder.located_event_sources():
            for key in source.read_options:
                if key.casefold() == _CORRUPT_RECORD_OPTION:
                    problems.append(
                        (
                            ("tables", index, *path, "read_options", key),
                            f"read option {key} would take bad records out of _rescued_data, "
                            "where the runtime keeps them (rescued, quarantined and counted); "
                            "remove it",
                        )
                    )
    return problems
