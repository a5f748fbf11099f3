"""A DLT pipeline: its compute, notebooks, permissions and tables."""

from __future__ import annotations

import difflib
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import BackRef, Model, RuleViolation, UpperCase, exactly_one
from .builder import LAYER_SYSTEM_COLUMNS
from .cluster import PipelineCluster
from .joins import STREAM_STATIC_HOW, STREAM_STREAM_HOW, TableJoin
from .permission import PipelinePermission
from .reader import Reader
from .rules import pipeline_rules
from .schedule import Schedule
from .sources import TableSource
from .spark_function_names import SPARK_FUNCTIONS
from .table import Table
from .udf import FunctionRef, PipelineUdf, missing_function, modules_root

Path = tuple[str | int, ...]


class NotebookLibrary(Model):
    """A notebook of the pipeline's source code."""

    path: str = Field(
        description="Notebook path. A path like `/pipelines/x.py` whose file exists in the "
        "local `notebooks/` folder is uploaded under the laktory root; other paths are taken "
        "as notebooks already in the workspace.",
        min_length=1,
    )


class FileLibrary(Model):
    """A Python file of the pipeline's source code."""

    path: str = Field(description="Workspace file path.", min_length=1)


class Library(Model):
    """Source code of the pipeline: exactly one of a notebook or a file."""

    notebook: NotebookLibrary | None = Field(default=None, description="A notebook.")
    file: FileLibrary | None = Field(default=None, description="A Python file.")

    @model_validator(mode="after")
    def _one_kind(self) -> Library:
        exactly_one(self, "notebook", "file")
        return self

    @property
    def path(self) -> str:
        """The library's path, whatever its kind."""
        return (self.notebook or self.file).path  # type: ignore[union-attr]


Alert = Literal[
    "on-update-success", "on-update-failure", "on-update-fatal-failure", "on-flow-failure"
]


class Notification(Model):
    """Who is e-mailed on which pipeline events."""

    alerts: list[Alert] = Field(
        description="Events: on-update-success, on-update-failure, on-update-fatal-failure, "
        "on-flow-failure.",
        min_length=1,
    )
    email_recipients: list[str] = Field(description="E-mail addresses.", min_length=1)


class Pipeline(Model):
    """A Delta Live Tables pipeline and the tables it maintains."""

    name: str = Field(
        description="Pipeline name, unique in the workspace; also names its metadata file.",
        min_length=1,
        pattern=r"^[A-Za-z0-9_.-]+$",
    )
    catalog: str | None = Field(default=None, description="Unity Catalog catalog of the tables.")
    target: str | None = Field(default=None, description="Schema the tables are published to.")
    clusters: list[PipelineCluster] = Field(
        default_factory=list, description="Clusters of the pipeline (not with serverless)."
    )
    libraries: list[Library] = Field(
        default_factory=list, description="Notebooks and files holding the pipeline's code."
    )
    permissions: list[PipelinePermission] = Field(
        default_factory=list, description="Who may view, run or manage the pipeline."
    )
    configuration: dict[str, str] = Field(
        default_factory=dict,
        description="Spark configuration of the pipeline, readable with `spark.conf.get`.",
    )
    continuous: bool = Field(
        default=False, description="Run continuously instead of one update per trigger."
    )
    development: bool | None = Field(
        default=None, description="Development mode: keep clusters up, do not retry on failure."
    )
    photon: bool = Field(default=False, description="Use the Photon engine.")
    serverless: bool | None = Field(default=None, description="Run on serverless compute.")
    channel: Annotated[Literal["CURRENT", "PREVIEW"], UpperCase] = Field(
        default="CURRENT", description="DLT runtime channel."
    )
    edition: Annotated[Literal["CORE", "PRO", "ADVANCED"], UpperCase] = Field(
        default="ADVANCED",
        description="DLT product edition; expectations need ADVANCED, CDC needs PRO.",
    )
    notifications: list[Notification] = Field(
        default_factory=list, description="E-mail notifications."
    )
    storage: str | None = Field(
        default=None,
        description="Storage location of a Hive metastore pipeline; not with `catalog`.",
    )
    tables: list[Table] = Field(default_factory=list, description="Tables the pipeline builds.")
    schedule: Schedule | None = Field(
        default=None,
        description="Run a triggered pipeline on a cron schedule: a Databricks job with one "
        "pipeline task, its permissions derived from the pipeline's. Not with `continuous`.",
    )
    readers: list[Reader] = Field(
        default_factory=list,
        description="Who may query the pipeline's tables: USE CATALOG on `catalog`, USE SCHEMA "
        "and SELECT on `target`, granted in Unity Catalog.",
    )
    manage_schema: bool = Field(
        default=True,
        description="Create the `target` schema in `catalog` (and keep it); false when the "
        "schema is managed elsewhere.",
    )
    manage_landing_volume: bool = Field(
        default=True,
        description="Create the Unity Catalog volume (and its schema) that "
        "`configuration.landing_root` names, `/Volumes/<catalog>/<schema>/<volume>/...`, when "
        "a table reads landed events; false when it is managed elsewhere.",
    )
    udfs: list[PipelineUdf] = Field(
        default_factory=list,
        description="Python functions of the project a column may call by name in "
        "`spark_func_name`, as Laktory's `udfs`; their modules are deployed next to the "
        "notebooks.",
    )

    @model_validator(mode="after")
    def _rules_across_fields(self) -> Pipeline:
        problems = self.rule_violations()
        if problems:
            raise RuleViolation(problems)
        for table in self.tables:
            table._pipeline = BackRef(self)
        return self

    def table(self, name: str) -> Table:
        """The table called `name`."""
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"pipeline {self.name} has no table {name!r}")

    def project_modules(self) -> list[FunctionRef]:
        """One reference per module of the project the pipeline imports (UDFs, transforms).

        Sorted by module name, so reordering the YAML changes no deployed resource. UDFs with a
        `module_path` live in the workspace already and are left out.
        """
        refs: list[FunctionRef] = [udf for udf in self.udfs if udf.module_path is None]
        refs += [table.transform for table in self.tables if table.transform is not None]
        unique = {ref.module_name: ref for ref in refs}
        return [unique[name] for name in sorted(unique)]

    def upstream(self, table: Table) -> list[Table]:
        """Tables of this pipeline that `table` reads (source and joins), directly or not, in
        build order."""
        seen: dict[str, Table] = {}
        names = {t.name for t in self.tables}

        def visit(current: Table) -> None:
            for _, name in table_reads(current):
                if name in seen or name not in names:
                    continue
                parent = self.table(name)
                visit(parent)
                seen[parent.name] = parent

        visit(table)
        return list(seen.values())

    def rule_violations(self) -> list[tuple[Path, str]]:
        """Rules no single field can check, each with the path of the field to blame."""
        return [
            *self._unique_names(),
            *self._sources_exist(),
            *self._no_cycles(),
            *self._keys_declared(),
            *self._editions_and_storage(),
            *self._schedule_and_readers(),
            *pipeline_rules(self),
            *self._functions_exist(),
            *self._appends(),
            *self._joins_runnable(),
            *self._join_keys_exist(),
            *self._templates_deployed(),
            *self._columns_computed(),
        ]

    def _functions_exist(self) -> list[tuple[Path, str]]:
        """Every `spark_func_name` is a Spark function or a UDF; every module and function exists.

        Module files are checked only when the loader says where the project's modules live
        (see `models.udf`); names are always checked.
        """
        problems: list[tuple[Path, str]] = []
        root = modules_root()
        refs: list[tuple[Path, FunctionRef]] = [
            (("udfs", index), udf) for index, udf in enumerate(self.udfs)
        ]
        refs += [
            (("tables", index, "transform"), table.transform)
            for index, table in enumerate(self.tables)
            if table.transform is not None
        ]
        for path, ref in refs:
            if root is None or getattr(ref, "module_path", None) is not None:
                continue
            missing = missing_function(ref, root)
            if missing is not None:
                problems.append(((*path, missing[0]), missing[1]))
        udf_names = {udf.function_name for udf in self.udfs}
        first: dict[str, int] = {}
        for index, udf in enumerate(self.udfs):
            if udf.function_name in first:
                problems.append(
                    (
                        ("udfs", index, "function_name"),
                        f"a column calls a UDF by its function name, and '{udf.function_name}' "
                        f"is also udfs[{first[udf.function_name]}]",
                    )
                )
            first.setdefault(udf.function_name, index)
        for index, table in enumerate(self.tables):
            calls: list[tuple[Path, str | None]] = [
                (("tables", index, "columns", position), column.spark_func_name)
                for position, column in enumerate(table.columns)
            ]
            aggregation = table.builder.aggregation
            if aggregation is not None:
                calls += [
                    (
                        ("tables", index, "builder", "aggregation", "aggregates", position),
                        agg.spark_func_name,
                    )
                    for position, agg in enumerate(aggregation.aggregates)
                ]
            for path, name in calls:
                if name is None or name in udf_names or name in SPARK_FUNCTIONS:
                    continue
                close = difflib.get_close_matches(name, sorted(SPARK_FUNCTIONS | udf_names), n=3)
                hint = f"; close names: {', '.join(close)}" if close else ""
                problems.append(
                    (
                        (*path, "spark_func_name"),
                        f"'{name}' is neither a function of pyspark.sql.functions nor one of the "
                        f"pipeline's udfs{hint}",
                    )
                )
        return problems

    def _unique_names(self) -> list[tuple[Path, str]]:
        problems: list[tuple[Path, str]] = []
        first_seen: dict[str, int] = {}
        for index, table in enumerate(self.tables):
            if table.name in first_seen:
                problems.append(
                    (
                        ("tables", index, "name"),
                        f"table '{table.name}' is declared twice (first at tables"
                        f"[{first_seen[table.name]}])",
                    )
                )
            first_seen.setdefault(table.name, index)
        labels: set[str] = set()
        for index, cluster in enumerate(self.clusters):
            if cluster.name in labels:
                problems.append(
                    (("clusters", index, "name"), f"cluster '{cluster.name}' is declared twice")
                )
            labels.add(cluster.name)
        principals: set[str] = set()
        for index, permission in enumerate(self.permissions):
            if permission.principal in principals:
                problems.append(
                    (
                        ("permissions", index, permission.principal_kind),
                        f"'{permission.principal}' has two permission entries",
                    )
                )
            principals.add(permission.principal)
        return problems

    def _sources_exist(self) -> list[tuple[Path, str]]:
        names = [table.name for table in self.tables]
        problems: list[tuple[Path, str]] = []
        for index, table in enumerate(self.tables):
            for path, name in table_reads(table):
                if name in names:
                    continue
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(
                    (
                        ("tables", index, *path),
                        f"no table '{name}' in this pipeline{hint}; an external table "
                        "needs its full name catalog.schema.table",
                    )
                )
        return problems

    def _no_cycles(self) -> list[tuple[Path, str]]:
        index_of = {table.name: index for index, table in enumerate(self.tables)}
        reads = {
            table.name: [(path, name) for path, name in table_reads(table) if name in index_of]
            for table in self.tables
        }
        problems: list[tuple[Path, str]] = []
        reported: set[str] = set()
        done: set[str] = set()

        def visit(chain: list[str]) -> None:
            for path, name in reads[chain[-1]]:
                if name in chain:
                    cycle = [*chain[chain.index(name) :], name]
                    if not reported.intersection(cycle):
                        problems.append(
                            (
                                ("tables", index_of[chain[-1]], *path),
                                "tables read each other in a cycle: " + " -> ".join(cycle),
                            )
                        )
                        reported.update(cycle)
                elif name not in done:
                    visit([*chain, name])
            done.add(chain[-1])

        for table in self.tables:
            if table.name not in done:
                visit([table.name])
        return problems

    def _appends(self) -> list[tuple[Path, str]]:
        """A table fed by several append flows has no single query for a quarantine to re-read."""
        return [
            (
                ("tables", index, "quarantine"),
                "quarantine needs a single source (this table appends several)",
            )
            for index, table in enumerate(self.tables)
            if table.quarantine and table.builder.appends
        ]

    def _keys_declared(self) -> list[tuple[Path, str]]:
        problems: list[tuple[Path, str]] = []
        for index, table in enumerate(self.tables):
            declared = table.output_columns
            if declared is None:
                continue
            keys: list[tuple[Path, str]] = []
            if table.timestamp_key is not None:
                keys.append((("tables", index, "timestamp_key"), table.timestamp_key))
            for position, key in enumerate(table.primary_key or []):
                path: Path = ("tables", index, "primary_key")
                keys.append(((*path, position) if len(table.primary_key or []) > 1 else path, key))
            for path, key in keys:
                if key not in declared:
                    close = difflib.get_close_matches(key, declared, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    problems.append(
                        (path, f"'{key}' is not a declared column of {table.name}{hint}")
                    )
        return problems

    def _editions_and_storage(self) -> list[tuple[Path, str]]:
        problems: list[tuple[Path, str]] = []
        if self.catalog is not None and self.storage is not None:
            problems.append(
                (("storage",), "storage is for Hive metastore pipelines; remove it or catalog")
            )
        if self.edition != "ADVANCED":
            for index, table in enumerate(self.tables):
                if table.expectations:
                    problems.append(
                        (
                            ("tables", index, "expectations"),
                            f"expectations need edition ADVANCED (this pipeline is {self.edition})",
                        )
                    )
        if self.edition == "CORE":
            for index, table in enumerate(self.tables):
                source = table.builder.table_source
                if source is not None and source.cdc is not None:
                    problems.append(
                        (
                            ("tables", index, "builder", "table_source", "cdc"),
                            "cdc needs edition PRO or ADVANCED (this pipeline is CORE)",
                        )
                    )
        if self.serverless and self.clusters:
            problems.append((("clusters",), "a serverless pipeline takes no clusters"))
        return problems

    def _schedule_and_readers(self) -> list[tuple[Path, str]]:
        problems: list[tuple[Path, str]] = []
        if self.schedule is not None and self.continuous:
            problems.append(
                (
                    ("schedule",),
                    "a continuous pipeline runs all the time; a schedule is for a triggered one "
                    "(continuous: false)",
                )
            )
        if self.readers and (self.catalog is None or self.target is None):
            problems.append(
                (("readers",), "readers are granted in Unity Catalog: set catalog and target")
            )
        seen: set[str] = set()
        for index, reader in enumerate(self.readers):
            if reader.principal in seen:
                problems.append(
                    (
                        ("readers", index, reader.principal_kind),
                        f"'{reader.principal}' is a reader twice",
                    )
                )
            seen.add(reader.principal)
        return problems

    def _joins_runnable(self) -> list[tuple[Path, str]]:
        """Joins Spark can run: the stream and batch combinations of its streaming guide."""
        problems: list[tuple[Path, str]] = []
        for index, table in enumerate(self.tables):
            builder = table.builder
            left_stream = builder.reads_stream
            left_watermark = builder.table_source.watermark if builder.table_source else None
            for field in ("joins", "joins_post_aggregation"):
                for position, join in enumerate(getattr(builder, field)):
                    path: Path = ("tables", index, "builder", field, position)
                    problems.extend(
                        _join_problems(join, path, left_stream, left_watermark is not None)
                    )
            if builder.pipeline_name is not None and builder.pipeline_name != self.name:
                problems.append(
                    (
                        ("tables", index, "builder", "pipeline_name"),
                        f"pipeline_name '{builder.pipeline_name}' is not this pipeline's name "
                        f"'{self.name}'",
                    )
                )
        return problems

    def _columns_computed(self) -> list[tuple[Path, str]]:
        """Columns of a table with a source say how they are computed (static data need not)."""
        return [
            (
                ("tables", index, "columns", position),
                "exactly one of spark_func_name or sql_expression is required (found neither)",
            )
            for index, table in enumerate(self.tables)
            if table.data is None
            for position, column in enumerate(table.columns)
            if not column.is_computed
        ]

    def known_columns(self, table: Table) -> list[str] | None:
        """The columns `table` holds, when its YAML alone says so (None when they depend on its
        source's data, e.g. a bronze table's events); with the system columns it may have."""
        declared = self._declared_output(table)
        if declared is None:
            return None
        system = [name for name in LAYER_SYSTEM_COLUMNS[table.layer] if name not in declared]
        return [*declared, *system]

    def _declared_output(self, table: Table) -> list[str] | None:
        builder = table.builder
        if isinstance(builder.selects, list):
            return list(builder.selects)
        if isinstance(builder.selects, dict):
            return list(builder.selects.values())
        if table.data is not None:
            return [column.name for column in table.columns]
        if builder.aggregation is not None and not builder.joins_post_aggregation:
            return table.output_columns
        if builder.drops_source_columns and table.columns:
            return table.output_columns
        return None

    def _read_columns(self, source: TableSource) -> list[str] | None:
        """The columns a read of another table gives, when known from the YAML."""
        if isinstance(source.selects, list):
            return list(source.selects)
        if isinstance(source.selects, dict):
            return list(source.selects.values())
        if source.is_external or source.name not in {t.name for t in self.tables}:
            return None
        return self.known_columns(self.table(source.name))

    def _join_keys_exist(self) -> list[tuple[Path, str]]:
        """A join's `on` columns exist on both sides, where the YAML tells both sides' columns."""
        problems: list[tuple[Path, str]] = []
        for index, table in enumerate(self.tables):
            builder = table.builder
            declared = [column.name for column in table.columns]
            left: list[str] | None = None
            if builder.table_source is not None:
                left = self._read_columns(builder.table_source)
            elif table.data is not None:
                left = declared
            if left is not None:
                keys = {key for join in builder.joins for key in join.on}
                left = [*left, *(name for name in declared if name in keys)]
            for position, join in enumerate(builder.joins):
                other = self._read_columns(join.other)
                path: Path = ("tables", index, "builder", "joins", position, "on")
                for side, names in (("the table's source", left), (join.other.name, other)):
                    if names is None:
                        continue
                    for key in join.on:
                        if key in names:
                            continue
                        close = difflib.get_close_matches(key, names, n=1)
                        hint = f" (did you mean '{close[0]}'?)" if close else ""
                        problems.append(
                            (
                                path,
                                f"join column '{key}' is not a column of {side}{hint}; it has "
                                f"{', '.join(names)}",
                            )
                        )
                if left is not None and other is not None:
                    left = [*left, *(name for name in other if name not in join.on)]
                else:
                    left = None
        return problems

    def _templates_deployed(self) -> list[tuple[Path, str]]:
        """Each table's notebook (its template) is one of the pipeline's libraries.

        Checked when the pipeline lists libraries; without any, nothing would build the tables
        and the deploy side says so.
        """
        if not self.libraries:
            return []
        notebooks = {
            library.path.rsplit("/", 1)[-1].removesuffix(".py")
            for library in self.libraries
            if library.notebook is not None
        }
        problems: list[tuple[Path, str]] = []
        for index, table in enumerate(self.tables):
            notebook = table.builder.notebook
            if notebook in notebooks:
                continue
            field = "template" if table.builder.template is not None else "layer"
            problems.append(
                (
                    ("tables", index, "builder", field),
                    f"table {table.name} is built by notebook '{notebook}', which is not among "
                    f"the pipeline's libraries ({', '.join(sorted(notebooks)) or 'none'}); add "
                    f"/pipelines/{notebook}.py to libraries",
                )
            )
        return problems


def _join_problems(
    join: TableJoin, path: Path, left_stream: bool, left_watermark: bool
) -> list[tuple[Path, str]]:
    """Why Spark would refuse this join, given how both sides are read."""
    other = join.other
    explicit_constraints = {
        name
        for name in ("time_constraint_interval_lower", "time_constraint_interval_upper")
        if getattr(join, name) is not None
    }
    if not other.read_as_stream:
        if left_stream and join.how not in STREAM_STATIC_HOW:
            return [
                (
                    (*path, "how"),
                    f"a stream joined with a batch read supports {', '.join(sorted(STREAM_STATIC_HOW))}"
                    f" (not {join.how}); read the other side as a stream too, or the source whole",
                )
            ]
        if explicit_constraints:
            return [
                (
                    (*path, sorted(explicit_constraints)[0]),
                    "time constraints bound stream-stream joins only (the other side is read "
                    "whole: read_as_stream: false)",
                )
            ]
        return []
    if not left_stream:
        return [
            (
                (*path, "other", "read_as_stream"),
                "a batch source cannot join a stream: read the other side whole "
                "(read_as_stream: false) or the source as a stream",
            )
        ]
    if join.how not in STREAM_STREAM_HOW:
        return [((*path, "how"), f"two streams cannot be joined with how: {join.how}")]
    problems: list[tuple[Path, str]] = []
    if other.watermark is None:
        problems.append(
            (
                (*path, "other"),
                "both sides stream: the other side needs a watermark (other.watermark), which "
                "bounds the join's state",
            )
        )
    if not left_watermark:
        problems.append(
            (
                (*path, "other", "read_as_stream"),
                "both sides stream: the table's source needs a watermark "
                "(table_source.watermark), which bounds the join's state",
            )
        )
    return problems


def table_reads(table: Table) -> list[tuple[Path, str]]:
    """The tables of its pipeline `table` may read (sources, joins, SQL inputs), each with the
    path (under the table) of the field naming it; external `catalog.schema.table` sources are
    left out."""
    reads: list[tuple[Path, str]] = [
        (("builder", *path, "name"), source.name) for path, source in table.builder.table_reads
    ]
    reads += [(("sql",), name) for name in table.sql_inputs or []]
    return [(path, name) for path, name in reads if "." not in name]
