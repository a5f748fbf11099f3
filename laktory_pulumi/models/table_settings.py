"""Table settings DLT applies to a dataset: properties, clustering, partitions, tags, row filters,
column masks, private tables; and the rules across fields that make them deployable.

Each setting reaches Databricks as a keyword of `dlt.table` / `dlt.create_streaming_table`, or,
for column masks, in the table's schema DDL (`runtime/table_settings.py`). The rules here return
`(path, message)` pairs as `Pipeline.rule_violations` does, so the loader points at the line of
the field to blame.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, Field

from .base import Model

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .table import Table

Path = tuple[str | int, ...]
Problems = list[tuple[Path, str]]


def _as_text(value: Any) -> Any:
    """YAML's `false` or `3` as DLT's property text (`"false"`, `"3"`): properties are strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


PropertyValue = Annotated[str, BeforeValidator(_as_text)]


class RowFilter(Model):
    """A Unity Catalog row filter: a SQL function returning BOOLEAN, called on some columns."""

    function: str = Field(
        description="The SQL function, by its full name `catalog.schema.function` (it must exist "
        "in Unity Catalog before the pipeline's update).",
        min_length=1,
    )
    columns: list[str] = Field(
        default_factory=list,
        description="The table's columns passed to the function, in its parameters' order.",
    )

    @property
    def clause(self) -> str:
        """`ROW FILTER fn ON (a, b)`: what DLT's `row_filter` keyword takes."""
        return f"ROW FILTER {self.function} ON ({', '.join(_quoted(c) for c in self.columns)})"


class ColumnMask(Model):
    """A Unity Catalog column mask: a SQL function whose result replaces the column's value."""

    function: str = Field(
        description="The SQL function, by its full name `catalog.schema.function`; it takes the "
        "column's value (then the `using` columns) and returns the value readers see.",
        min_length=1,
    )
    using: list[str] = Field(
        default_factory=list,
        description="Other columns of the table passed to the function after the masked value.",
    )

    @property
    def clause(self) -> str:
        """`MASK fn [USING COLUMNS (a, b)]`, as a column of the schema DDL takes it."""
        using = (
            f" USING COLUMNS ({', '.join(_quoted(c) for c in self.using)})" if self.using else ""
        )
        return f"MASK {self.function}{using}"


class EventLog(Model):
    """Where the pipeline publishes its event log, as a Unity Catalog table."""

    name: str = Field(description="Name of the event log table.", min_length=1)
    catalog: str | None = Field(
        default=None, description="Catalog of the event log table; the pipeline's by default."
    )
    schema_name: str | None = Field(
        default=None,
        alias="schema",
        description="Schema of the event log table; the pipeline's `target` by default.",
    )


def _quoted(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


RESERVED_PROPERTIES = frozenset(
    {"comment", "location", "owner", "provider", "external", "is_managed_location", "collation"}
)
"""Keys Spark and Databricks keep for themselves. Databricks SQL reference, "Table properties and
table options", *Reserved table property keys* (external, location, owner, provider; keys
starting with `option.`); Spark's `TableCatalog.PROP_*` (comment, collation,
is_managed_location), which SDP sets from the dataset's own fields
(`DatasetManager.resolveTableProperties`)."""

BOOLEAN_PIPELINE_PROPERTIES = frozenset(
    {"pipelines.reset.allowed", "pipelines.autooptimize.managed"}
)
"""Pipeline table properties read as booleans (lower-cased): SDP refuses another value of
`pipelines.reset.allowed` (`PipelinesTableProperties.validateAndCanonicalize`, apache/spark
sql/pipelines), and both are documented as booleans (Databricks docs, "Pipeline properties
reference", table properties)."""

PIPELINE_PROPERTIES = frozenset(
    {
        "pipelines.reset.allowed",
        "pipelines.autooptimize.managed",
        "pipelines.autooptimize.zordercols",
    }
)
"""The `pipelines.*` table properties Databricks documents ("Pipeline properties reference",
lower-cased): a key close to one of them but not it is a misspelling, which DLT would ignore."""

RESET_ALLOWED = "pipelines.reset.allowed"


def settings_rules(pipeline: Pipeline) -> Problems:
    """Every rule of the table settings, in file order of the fields they blame."""
    problems: Problems = []
    unity_catalog = pipeline.catalog is not None
    if pipeline.event_log is not None and not unity_catalog:
        problems.append(
            (("event_log",), "an event log table is published in Unity Catalog: set catalog")
        )
    for index, table in enumerate(pipeline.tables):
        at: Path = ("tables", index)
        problems += _properties(at, table)
        if table.partition_cols and (table.cluster_by or table.cluster_by_auto):
            chosen = "cluster_by" if table.cluster_by else "cluster_by_auto"
            problems.append(
                (
                    (*at, "partition_cols"),
                    f"partition_cols and {chosen} exclude each other: a Delta table uses liquid "
                    'clustering or partitions, not both (Databricks docs, "Use liquid '
                    'clustering for tables")',
                )
            )
        problems += _columns_exist(pipeline, at, table)
        if table.path is not None and unity_catalog:
            problems.append(
                (
                    (*at, "path"),
                    "a Unity Catalog pipeline stores its tables where the catalog manages them; "
                    "path is for a Hive metastore pipeline (no catalog)",
                )
            )
        if not unity_catalog:
            if table.row_filter is not None:
                problems.append(
                    (
                        (*at, "row_filter"),
                        "a row filter needs a Unity Catalog pipeline: set catalog",
                    )
                )
            for position, column in enumerate(table.columns):
                if column.mask is not None:
                    problems.append(
                        (
                            (*at, "columns", position, "mask"),
                            "a column mask needs a Unity Catalog pipeline: set catalog",
                        )
                    )
        problems += _masks_need_a_schema(at, table)
        source = table.builder.table_source
        if table.private and (table.builder.appends or (source is not None and source.cdc)):
            problems.append(
                (
                    (*at, "private"),
                    "a table fed by append flows or CDC is declared with "
                    "dlt.create_streaming_table, which has no private dataset; only a table of "
                    "one source without cdc can be private",
                )
            )
    return problems


def _properties(at: Path, table: Table) -> Problems:
    problems: Problems = []
    for key, value in (table.table_properties or {}).items():
        folded = key.casefold()
        path: Path = (*at, "table_properties", key)
        if folded in RESERVED_PROPERTIES or folded.startswith("option."):
            problems.append(
                (
                    path,
                    f"'{key}' is a reserved table property; Databricks refuses it"
                    + (" (the table's `comment` sets it)" if folded == "comment" else ""),
                )
            )
        elif folded.startswith("pipelines.") and folded not in PIPELINE_PROPERTIES:
            close = difflib.get_close_matches(folded, sorted(PIPELINE_PROPERTIES), n=1, cutoff=0.8)
            if close:
                problems.append(
                    (path, f"'{key}' is not a pipeline table property (did you mean '{close[0]}'?)")
                )
        elif folded in BOOLEAN_PIPELINE_PROPERTIES and value.casefold() not in ("true", "false"):
            problems.append((path, f"'{key}' is true or false, not '{value}'"))
    return problems


def _columns_exist(pipeline: Pipeline, at: Path, table: Table) -> Problems:
    from .builder_rules import known_columns

    if not _setting_columns(at, table):
        return []  # nothing to look for: the table's columns need not be worked out
    known = known_columns(pipeline, table)
    if known is None:
        return []  # the source's columns decide; `validate --deep` analyses the plan
    return missing_setting_columns(at, table, known)


def missing_setting_columns(at: Path, table: Table, known: list[str]) -> Problems:
    """The clustering, partition, row filter and mask columns of `table` (at `at`) that are
    not among `known`, its output columns (declared, or analysed by `validate --deep`)."""
    folded = {name.casefold() for name in known}
    problems: Problems = []
    for path, name in _setting_columns(at, table):
        if name.casefold() not in folded:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append((path, f"'{name}' is not a column of {table.name}{hint}"))
    return problems


def _setting_columns(at: Path, table: Table) -> list[tuple[Path, str]]:
    """The columns the settings of `table` (at `at`) name, each at its path."""
    named: list[tuple[Path, str]] = []
    for field in ("cluster_by", "partition_cols"):
        named += [((*at, field, i), name) for i, name in enumerate(getattr(table, field) or [])]
    if table.row_filter is not None:
        named += [
            ((*at, "row_filter", "columns", i), name)
            for i, name in enumerate(table.row_filter.columns)
        ]
    for position, column in enumerate(table.columns):
        if column.mask is not None:
            named += [
                ((*at, "columns", position, "mask", "using", i), name)
                for i, name in enumerate(column.mask.using)
            ]
    return named


def schema_is_declared(table: Table) -> bool:
    """Whether the table's columns are exactly its declared ones and the system columns the
    runtime stamps, each with a type: what a schema DDL listing every column needs."""
    from .column import NO_CAST

    builder = table.builder
    source = builder.table_source
    return (
        bool(table.columns)
        # apply_changes writes its own columns (SCD 2's __START_AT, __END_AT; except_columns)
        and (source is None or source.cdc is None)
        and table.sql is None
        and table.data is None
        and table.transform is None
        and builder.aggregation is None
        and not builder.joins
        and builder.selects is None
        and not builder.drop_columns
        and builder.drops_source_columns
        and all(column.type.strip() != NO_CAST for column in table.columns)
    )


def _masks_need_a_schema(at: Path, table: Table) -> Problems:
    """DLT takes a mask in the table's schema, which then lists every column with its type."""
    if schema_is_declared(table):
        return []
    return [
        (
            (*at, "columns", position, "mask"),
            "a column mask goes in the table's schema, which lists every column with its type: "
            "the table must be built from its declared, typed columns alone (source columns "
            "dropped; no selects, drop_columns, joins, aggregation, transform, sql or cdc)",
        )
        for position, column in enumerate(table.columns)
        if column.mask is not None
    ]


def settings_notices(pipeline: Pipeline) -> Problems:
    """Notices, not errors: a `pii` column published without a mask; a masked column whose
    failing rows go, unmasked, to a quarantine table."""
    notices: Problems = []
    for index, table in enumerate(pipeline.tables):
        masked = [column.name for column in table.columns if column.mask is not None]
        if table.quarantine and masked:
            notices.append(
                (
                    ("tables", index, "quarantine"),
                    f"{table.quarantine_name} holds the rows {table.name} drops with their "
                    f"values as read, unmasked ({', '.join(masked)}): grant it to fewer readers",
                )
            )
        if table.private:
            continue
        for position, column in enumerate(table.columns):
            if column.pii and column.mask is None:
                notices.append(
                    (
                        ("tables", index, "columns", position, "pii"),
                        f"column '{column.name}' holds personal data and {table.name} is "
                        "published unmasked: anyone who may read the table sees its values "
                        "(give it a `mask`, or make the table `private`)",
                    )
                )
    return notices


def databricks_only_settings(table: Table) -> list[str]:
    """The settings of `table` a local run does not apply (only Databricks does)."""
    names = []
    if table.cluster_by:
        names.append("cluster_by")
    if table.cluster_by_auto:
        names.append("cluster_by_auto")
    if table.row_filter is not None:
        names.append("row_filter")
    if any(column.mask is not None for column in table.columns):
        names.append("mask")
    if table.path is not None:
        names.append("path")
    if table.tags:
        names.append("tags")  # Unity Catalog's, assigned by the deploy (`deploy.table_tags`)
    return names


def databricks_only_notice(pipeline: Pipeline) -> str | None:
    """One line naming the settings a local run leaves to Databricks, or None."""
    parts = [
        f"{table.name} ({', '.join(names)})"
        for table in pipeline.tables
        if (names := databricks_only_settings(table))
    ]
    if not parts:
        return None
    return "not applied by this local run, only on Databricks: " + "; ".join(parts)
