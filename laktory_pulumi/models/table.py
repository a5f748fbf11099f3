"""A table of a pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, ModelWrapValidatorHandler, PrivateAttr, field_validator, model_validator

from .base import (
    DEFINED_AT,
    BackRef,
    DefinedAt,
    FieldError,
    Model,
    UpperCase,
    equal_wherever_defined,
)
from .builder import TableBuilder
from .cdc_feeds import generated_views
from .column import NO_CAST, Column
from .sql_inputs import SQL_TABLE, SqlParseError, parsing_enabled, tables_read
from .table_settings import PropertyValue, RowFilter
from .udf import Transform

if TYPE_CHECKING:
    from .pipeline import Pipeline


class Expectation(Model):
    """A data quality rule, with DLT's semantics."""

    name: str = Field(description="Rule name, reported in the pipeline's metrics.", min_length=1)
    expression: str = Field(description="SQL condition every valid row meets, e.g. `open > 0`.")
    action: Annotated[Literal["WARN", "DROP", "FAIL"], UpperCase] = Field(
        default="WARN",
        description="WARN keeps failing rows and counts them; DROP removes them; FAIL stops the "
        "update.",
    )
    type: Annotated[Literal["ROW", "AGGREGATE"], UpperCase] | None = Field(
        default=None,
        description="ROW (the default): `expression` holds on every row. AGGREGATE: "
        "`expression` is an aggregate condition over all the table's rows, e.g. "
        "`count(*) > 50`, checked after each update in a private materialized view "
        "`<table>_aggregate_checks`; its action is WARN or FAIL.",
    )
    defined_at: DefinedAt = DEFINED_AT
    __eq__ = equal_wherever_defined

    @property
    def is_aggregate(self) -> bool:
        """Whether the rule is a condition on the whole table rather than on each row."""
        return self.type == "AGGREGATE"

    @model_validator(mode="after")
    def _aggregate_rules_keep_rows(self) -> Expectation:
        if self.is_aggregate and self.action == "DROP":
            raise FieldError(
                "action",
                "an AGGREGATE expectation holds on the whole table, so it has no row to drop; "
                "its action is WARN or FAIL",
            )
        return self

    @field_validator("expression")
    @classmethod
    def _expression_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an expectation needs a SQL condition; the expression is empty")
        return value


TablePrivilege = Literal["ALL_PRIVILEGES", "SELECT", "MODIFY"]
"""The privileges of Laktory v0.0.22's `TableGrant` (laktory/models/grants/tablegrant.py)."""


class TableGrant(Model):
    """Laktory v0.0.22's grant of privileges on one table to one principal."""

    principal: str = Field(description="User, group or service principal.", min_length=1)
    privileges: list[Annotated[TablePrivilege, UpperCase]] = Field(
        description="Privileges granted: ALL_PRIVILEGES, SELECT or MODIFY.", min_length=1
    )


class Table(Model):
    """A streaming table or materialized view of the pipeline."""

    name: str = Field(
        description="Table name, unique in the pipeline.",
        min_length=1,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
    )
    comment: str | None = Field(default=None, description="Table comment shown in the catalog.")
    catalog_name: str | None = Field(
        default=None,
        description="Laktory v0.0.22's `catalog_name`. A pipeline publishes every table to its "
        "own `catalog` (Laktory v0.0.22 overwrote this field with it), so it must equal the "
        "pipeline's `catalog`, or validation fails.",
    )
    schema_name: str | None = Field(
        default=None,
        description="Laktory v0.0.22's `schema_name`. A pipeline publishes every table to its "
        "`target` schema, so it must equal the pipeline's `target`, or validation fails.",
    )
    grants: list[TableGrant] | None = Field(
        default=None,
        description="Laktory v0.0.22's table `grants`. Laktory's pipeline never deployed them, "
        "and a Unity Catalog grant on a pipeline table cannot be deployed with the pipeline "
        "(the table exists only after the pipeline's first update), so a non-empty list fails "
        "validation: grant SELECT on the whole target schema with the pipeline's `readers`.",
    )
    timestamp_key: str | None = Field(
        default=None,
        description="Column (or nested field) holding the event time; copied to `_tstamp` on "
        "silver.",
    )
    primary_key: list[str] | None = Field(
        default=None,
        description="Column(s) identifying a row; a single name or a list. Used by "
        "drop_duplicates.",
    )
    columns: list[Column] = Field(default_factory=list, description="Columns to build.")
    builder: TableBuilder = Field(description="Source and transformations.")
    data: list[list[Any]] | None = Field(
        default=None,
        description="Static rows, one list of values per row in the order of `columns`, "
        "instead of a source: the table is a materialized view of these rows, each value cast "
        "to its column's type.",
    )
    expectations: list[Expectation] = Field(default_factory=list, description="Data quality rules.")
    quarantine: bool = Field(
        default=False,
        description="Write rows failing a DROP expectation to `<name>_quarantine`, with the "
        "names of the rules they failed (`_failed_expectations`; bronze rows also keep their "
        "`_source_file`). A table fed by several sources quarantines the failing rows of every "
        "flow, each with its flow key in `_flow`. On a CDC table the quarantine takes the "
        "changes its rules drop before they are applied, and the changes whose `sequence_by` "
        "is NULL (rule `sequence_not_null`), which are never applied. BRONZE and SILVER only.",
    )

    table_properties: dict[str, PropertyValue] | None = Field(
        default=None,
        description="Table properties (`TBLPROPERTIES`), e.g. `delta.enableChangeDataFeed: "
        "true` or `pipelines.reset.allowed: false` (a full refresh then keeps the table's rows, "
        "on Databricks and in local runs). Values are text; reserved keys (comment, location, "
        "owner, provider, external, `option.*`) are refused.",
    )
    cluster_by: list[str] | None = Field(
        default=None,
        description="Liquid clustering columns (DLT's `cluster_by`); not with `partition_cols`. "
        "Applied on Databricks only: a local run says so.",
    )
    cluster_by_auto: bool | None = Field(
        default=None,
        description="Let Databricks choose the clustering columns (DLT's `cluster_by_auto`); "
        "with or without `cluster_by`, not with `partition_cols`. Databricks only.",
    )
    partition_cols: list[str] | None = Field(
        default=None,
        description="Partition columns (DLT's `partition_cols`), applied locally too; not with "
        "clustering.",
    )
    row_filter: RowFilter | None = Field(
        default=None,
        description="A Unity Catalog row filter (DLT's `row_filter`): a SQL function and the "
        "columns it is called on; readers see only the rows it returns true for. Needs a "
        "`catalog`. Databricks only.",
    )
    private: bool | None = Field(
        default=None,
        description="A private table (DLT's private dataset, `temporary=True`): the pipeline "
        "reads it, the catalog does not publish it. Locally it is a view of the pipeline.",
    )
    path: str | None = Field(
        default=None,
        description="Storage location of the table's data (DLT's `path`), for a Hive metastore "
        "pipeline only (a Unity Catalog pipeline manages its tables' storage).",
        min_length=1,
    )
    tags: dict[str, str] | None = Field(
        default=None,
        description="Unity Catalog tags of the table (`key: value`; an empty value is a "
        "key-only tag). DLT's table definitions take no tags, so the deploy assigns each one "
        "(`databricks.EntityTagAssignment`) once the table exists: a table the pipeline has "
        "not created yet gets its tags at the next `pulumi up`, as the deploy's notice says. "
        "Needs a `catalog`; not on a private table. Local runs do not apply them (the run "
        "says so).",
    )

    defined_at: DefinedAt = DEFINED_AT
    __eq__ = equal_wherever_defined

    transform: Transform | None = Field(
        default=None,
        description="A function of the project taking and returning a DataFrame, applied once "
        "the columns are built (before filter, drop_duplicates and selects).",
    )

    sql: str | None = Field(
        default=None,
        description="A Spark SQL query over other tables of the pipeline (by name) whose rows "
        "are this table's, instead of a builder source. It reads its inputs whole (the table is "
        "a materialized view). The builder's columns, filter and selects still apply, and the "
        "query's columns are kept unless `drop_source_columns: true`.",
        min_length=1,
    )
    sql_inputs: list[str] | None = Field(
        default=None,
        description="The tables `sql` reads, as Spark's SQL parser finds them. Filled in when "
        "the project is loaded (parsed on a local JVM, kept in `.laktory/sql_inputs.json`); "
        "written into the deployed metadata so that nothing is parsed on Databricks.",
    )

    _pipeline: BackRef = PrivateAttr(default_factory=BackRef)

    @model_validator(mode="wrap")
    @classmethod
    def _sql_tables_have_no_builder_source(
        cls, data: Any, handler: ModelWrapValidatorHandler[Table]
    ) -> Table:
        token = SQL_TABLE.set(isinstance(data, dict) and data.get("sql") is not None)
        try:
            return handler(data)
        finally:
            SQL_TABLE.reset(token)

    @model_validator(mode="after")
    def _sql_inputs_from_the_parser(self) -> Table:
        if self.sql is None:
            if self.sql_inputs is not None:
                raise FieldError("sql_inputs", "sql_inputs are the inputs of `sql`, which is unset")
            return self
        if parsing_enabled():
            try:
                self.sql_inputs = tables_read(self.sql)
            except SqlParseError as error:
                raise FieldError("sql", str(error)) from None
        elif self.sql_inputs is None:
            raise FieldError(
                "sql",
                "the tables this query reads are not known: load it with its project "
                "(laktory-pulumi validate), which parses it with Spark's parser",
            )
        return self

    @field_validator("primary_key", mode="before")
    @classmethod
    def _one_key_is_a_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _attach_builder(self) -> Table:
        self.builder._table = BackRef(self)
        return self

    @model_validator(mode="after")
    def _source_or_data(self) -> Table:
        if self.data is None:
            if not self.builder.has_source and self.sql is None:
                raise FieldError(
                    "builder",
                    "exactly one of event_source or table_source is required (found none), "
                    "or static rows in the table's data",
                )
            return self
        if self.builder.has_source:
            raise FieldError("data", "a table of static data takes no event_source or table_source")
        if not self.columns:
            raise FieldError("data", "static data needs the table's columns, to name its values")
        for column in self.columns:
            if column.type.strip() == NO_CAST:
                raise FieldError(
                    "data",
                    f"column '{column.name}' has type {NO_CAST}, but static data values take "
                    "their column's type: give it a Spark SQL type",
                )
        for row in self.data:
            if len(row) != len(self.columns):
                raise FieldError(
                    "data",
                    f"each row of data has one value per column ({len(self.columns)}); found a "
                    f"row of {len(row)}",
                )
        return self

    @model_validator(mode="after")
    def _grants_cannot_be_deployed(self) -> Table:
        if self.grants:
            raise FieldError(
                "grants",
                "table grants are not deployed: the table exists only after the pipeline's "
                "first update, so a grant on it would fail `pulumi up`; grant SELECT on the "
                "target schema with the pipeline's `readers` instead",
            )
        return self

    @model_validator(mode="after")
    def _quarantine_needs_a_drop_rule(self) -> Table:
        if (
            self.quarantine
            and not any(e.action == "DROP" and not e.is_aggregate for e in self.expectations)
            and not self.quarantines_null_sequences
        ):
            raise FieldError(
                "quarantine", "quarantine needs at least one expectation with action DROP"
            )
        return self

    @property
    def layer(self) -> str:
        """Medallion layer of the table."""
        return self.builder.layer

    @property
    def output_columns(self) -> list[str] | None:
        """Declared output columns, or None when they depend on the source."""
        if self.builder.aggregation is not None:
            return [*self.builder.aggregation.output_columns, *(c.name for c in self.columns)]
        if self.columns:
            return [column.name for column in self.columns]
        return None

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline this table belongs to."""
        if self._pipeline.target is None:
            raise RuntimeError(f"table {self.name} is not attached to a pipeline")
        return self._pipeline.target  # type: ignore[return-value]

    @property
    def quarantines_null_sequences(self) -> bool:
        """Whether the quarantine takes the changes whose sequence is NULL: a quarantined CDC
        table ordered by one column or expression (a struct of several is never NULL)."""
        source = self.builder.table_source
        cdc = source.cdc if source is not None else None
        return self.quarantine and cdc is not None and isinstance(cdc.sequence_by, str)

    @property
    def quarantine_name(self) -> str:
        """Name of the table holding the rows that failed DROP expectations."""
        return f"{self.name}_quarantine"

    @property
    def changes_view_name(self) -> str:
        """Name of the view holding a CDC table's processed change feed."""
        return f"{self.name}_changes"

    @property
    def generated_datasets(self) -> list[tuple[str, tuple[str, ...], str]]:
        """Datasets the runtime defines for this table besides itself.

        Each as (name, path of the field that asks for it, what it is); the pipeline's rules
        check these names against every other dataset, the runtime defines them by these names.
        """
        generated: list[tuple[str, tuple[str, ...], str]] = []
        if self.quarantine:
            generated.append((self.quarantine_name, ("quarantine",), "quarantine table"))
        source = self.builder.table_source
        if source is not None and source.cdc is not None:
            generated.append(
                (self.changes_view_name, ("builder", "table_source", "cdc"), "change-feed view")
            )
        generated += generated_views(self)
        if any(expectation.is_aggregate for expectation in self.expectations):
            generated.append(
                (self.aggregate_checks_name, ("expectations",), "aggregate expectations view")
            )
        return generated

    @property
    def aggregate_checks_name(self) -> str:
        """The private materialized view checking the table's AGGREGATE expectations."""
        return f"{self.name}_aggregate_checks"
