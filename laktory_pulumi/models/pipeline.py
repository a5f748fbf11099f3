"""A DLT pipeline: its compute, notebooks, permissions and tables."""

from __future__ import annotations

import difflib
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import BackRef, Model, RuleViolation, UpperCase, exactly_one
from .builder_rules import builder_rules
from .cdc_feeds import cdc_feed_rules
from .cluster import PipelineCluster
from .deploy_rules import deploy_rules
from .function_rules import functions_exist
from .laktory_rules import laktory_name_rules
from .permission import CatalogGrant, PipelinePermission
from .reader import Reader
from .rules import pipeline_rules
from .schedule import Schedule
from .sinks import Sink, sink_rules
from .table import Table
from .table_settings import EventLog, PropertyValue, settings_rules
from .table_test import TableTest, table_test_rules
from .tag_rules import tag_rules
from .udf import FunctionRef, PipelineUdf
from .value_arg_rules import value_args_are_columns

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
    allow_duplicate_names: bool | None = Field(
        default=None,
        description="Let the workspace hold another pipeline of the same name (the Databricks "
        "pipeline's `allow_duplicate_names`), as Laktory v0.0.22's field.",
    )
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
    sinks: list[Sink] = Field(
        default_factory=list,
        description="Tables' rows published outside the pipeline as they are appended: DLT's "
        "`create_sink` (Kafka or an external Delta table) fed by an append flow, files under "
        "the state folder in a local run; or DLT's `foreach_batch_sink`, a function of the "
        "project called with each micro-batch (locally too).",
    )
    schedule: Schedule | None = Field(
        default=None,
        description="Run a triggered pipeline on a cron schedule: a Databricks job with one "
        "pipeline task, its permissions derived from the pipeline's. Not with `continuous`.",
    )
    readers: list[Reader] = Field(
        default_factory=list,
        description="Who may query the pipeline's tables: USE SCHEMA and SELECT on `target` "
        "when this stack creates it, granted in Unity Catalog. USE CATALOG on `catalog` is "
        "granted by the catalog's admins (the deploy says what to grant) or through "
        "`authoritative_catalog_grants`.",
    )
    authoritative_catalog_grants: list[CatalogGrant] = Field(
        default_factory=list,
        description="Opt-in grants on `catalog`, which the stack does not create: each entry is "
        "the principal's COMPLETE privilege list there. Deploying it removes every other "
        "privilege the principal had on the catalog; destroying the stack revokes them all.",
    )
    allow_dropping_tables: list[str] = Field(
        default_factory=list,
        description="Tables removed from this file that the next update may drop on a "
        "protected stack (DLT drops a table its pipeline no longer defines); without them, "
        "`pulumi preview` refuses the update.",
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

    tags: dict[str, PropertyValue] = Field(
        default_factory=dict,
        description="Tags of the pipeline (the Databricks pipeline's `tags`), e.g. for cost "
        'attribution; values are text (`42` is `"42"`).',
    )
    event_log: EventLog | None = Field(
        default=None,
        description="Publish the pipeline's event log as a Unity Catalog table (the Databricks "
        "pipeline's `event_log`: name, catalog, schema). Needs a `catalog`.",
    )

    tests: list[TableTest] = Field(
        default_factory=list,
        exclude=True,
        description="Table tests, run on the local engine by `laktory-pulumi test`: rows given "
        "for some upstream tables or event sources, and the rows (or conditions) a table must "
        "then hold. Not deployed (left out of the metadata file).",
    )

    def __eq__(self, other: object) -> bool:
        """Equal by what is deployed: the tests are not (the metadata file leaves them out),
        so a pipeline read back from its metadata equals the one loaded from its YAML."""
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Pipeline)
        mine = {key: value for key, value in self.__dict__.items() if key != "tests"}
        theirs = {key: value for key, value in other.__dict__.items() if key != "tests"}
        return mine == theirs and self.__pydantic_private__ == other.__pydantic_private__

    __hash__ = None  # type: ignore[assignment]

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
        """One reference per module of the project the pipeline imports (UDFs, transforms,
        foreach_batch sinks' handlers).

        Sorted by module name, so reordering the YAML changes no deployed resource. UDFs with a
        `module_path` live in the workspace already and are left out.
        """
        refs: list[FunctionRef] = [udf for udf in self.udfs if udf.module_path is None]
        refs += [table.transform for table in self.tables if table.transform is not None]
        refs += [sink.function for sink in self.sinks if sink.function is not None]
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
            *deploy_rules(self),
            *pipeline_rules(self),
            *functions_exist(self),
            *value_args_are_columns(self),
            *builder_rules(self),
            *cdc_feed_rules(self),
            *laktory_name_rules(self),
            *settings_rules(self),
            *tag_rules(self),
            *table_test_rules(self),
            *sink_rules(self),
        ]

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


def table_reads(table: Table) -> list[tuple[Path, str]]:
    """The tables of its pipeline `table` may read (sources, joins, SQL inputs), each with the
    path (under the table) of the field naming it; external `catalog.schema.table` sources are
    left out."""
    reads: list[tuple[Path, str]] = [
        (("builder", *path, "name"), source.name)
        for path, source in table.builder.table_reads
        if not source.is_external
    ]
    reads += [(("sql",), name) for name in table.sql_inputs or []]
    return [(path, name) for path, name in reads if "." not in name]
