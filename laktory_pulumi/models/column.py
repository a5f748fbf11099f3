"""Columns: how a table's columns are computed from its source."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    Discriminator,
    Field,
    Tag,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from .base import DEFINED_AT, DefinedAt, FieldError, Model, equal_wherever_defined
from .spark_types import check_spark_type
from .table_settings import ColumnMask


class LitArg(Model):
    """A constant passed to a Spark function as a Column (`F.lit(value)`)."""

    lit: Any = Field(description="The constant; wrapped in `F.lit` before the call.")


class ValueArg(Model):
    """A plain Python value passed as is, for parameters that are not columns (a format, a scale).

    A text for a column parameter is a SQL expression instead, Laktory v0.0.22's meaning
    (`runtime/value_args.py`)."""

    value: Any = Field(description="Passed to the function unchanged, e.g. `'yyyy-MM-dd'` or `2`.")


class SqlArg(Model):
    """A SQL expression passed to a Spark function as a Column (`F.expr(sql)`)."""

    sql: str = Field(description="A Spark SQL expression, e.g. `close - open`.")


class LaktoryArg(Model):
    """Laktory v0.0.22's `SparkFuncArg`: `{value, is_column, to_lit}`.

    Laktory passed `F.lit(value)` when `to_lit`, else `F.expr(value)` (whether `is_column` or
    not: laktory/models/sql/column.py at tag v0.0.22). Loading turns it into our `{lit: X}` or
    `{sql: EXPR}`, which the runtime, the validation and the graph already know.
    """

    value: Any = Field(description="The column expression, or the constant when `to_lit`.")
    is_column: bool | None = Field(
        default=None,
        description="The value is a column expression (`F.expr(value)`).",
    )
    to_lit: bool | None = Field(
        default=None, description="The value is a constant (`F.lit(value)`)."
    )

    @model_validator(mode="after")
    def _one_meaning(self) -> LaktoryArg:
        if self.is_column and self.to_lit:
            raise FieldError("to_lit", "an argument is a column (is_column) or a literal (to_lit)")
        if not self.to_lit and not isinstance(self.value, str):
            raise FieldError(
                "value",
                f"{self.value!r} is not a SQL expression: set to_lit: true to pass it as a constant",
            )
        return self

    def as_ours(self) -> LitArg | SqlArg:
        """The same argument in our forms: `{lit: X}` or `{sql: EXPR}`."""
        if self.to_lit:
            return LitArg(lit=self.value)
        return SqlArg(sql=self.value)


_LAKTORY_FLAGS = {"is_column", "to_lit"}


def _arg_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "column-ref"
    if isinstance(value, BaseModel):
        return {
            LitArg: "lit-arg",
            ValueArg: "value-arg",
            SqlArg: "sql-arg",
            LaktoryArg: "laktory-arg",
        }.get(type(value))
    if isinstance(value, dict) and "value" in value and _LAKTORY_FLAGS & set(value):
        return "laktory-arg"
    if isinstance(value, dict) and len(value) == 1:
        return {"lit": "lit-arg", "value": "value-arg", "sql": "sql-arg"}.get(next(iter(value)))
    return None


def _as_ours(value: Any) -> Any:
    return value.as_ours() if isinstance(value, LaktoryArg) else value


FuncArg = Annotated[
    Annotated[str, Tag("column-ref")]
    | Annotated[LitArg, Tag("lit-arg")]
    | Annotated[ValueArg, Tag("value-arg")]
    | Annotated[SqlArg, Tag("sql-arg")]
    | Annotated[LaktoryArg, Tag("laktory-arg")],
    Discriminator(
        _arg_kind,
        custom_error_type="func_arg",
        custom_error_message="an argument is a column name, or one of {lit: X} (a literal "
        "column), {value: X} (a Python value), Laktory's {value: X, is_column: B, to_lit: B} "
        "or {sql: EXPR}",
    ),
    AfterValidator(_as_ours),
]
"""A plain string names a column (nested fields with dots); anything else must say what it is.

Laktory v0.0.22's `{value, is_column, to_lit}` (recognised by either flag) is loaded as our
`{lit: X}` or `{sql: EXPR}`. `{value: X}` alone is a plain value, except a text for a column
parameter, which the runtime reads as Laktory did, a SQL expression (`runtime/value_args.py`).
"""


SparkType = Annotated[str, AfterValidator(check_spark_type)]

NO_CAST = "_any"
"""Laktory v0.0.22's column type that means "keep the value's own type" (no cast)."""


def _no_cast_or_checked(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    return value if isinstance(value, str) and value.strip() == NO_CAST else handler(value)


ColumnType = Annotated[str, AfterValidator(check_spark_type), WrapValidator(_no_cast_or_checked)]
"""A Spark SQL type, or `_any` (no cast) as in Laktory v0.0.22."""


class ColumnExpression(Model):
    """How one value is computed: a `pyspark.sql.functions` call or a SQL expression."""

    spark_func_name: str | None = Field(
        default=None,
        description="Name of a function of `pyspark.sql.functions`, e.g. `coalesce`.",
    )
    spark_func_args: list[FuncArg] = Field(
        default_factory=list,
        description="Positional arguments. A string is a column reference "
        "(`data.symbol`); `{lit: 0}` is a literal column, `{value: 'yyyy'}` a plain "
        "Python value for a parameter that is not a column (a format, a separator, a scale), "
        "`{sql: 'a + b'}` an expression. A text `{value: X}` given to a column parameter "
        "(pyspark's `ColumnOrName`) is a SQL expression, as Laktory v0.0.22's `F.expr(X)`. "
        "Laktory v0.0.22's form `{value: X, is_column: true}` is `{sql: X}` and "
        "`{value: X, to_lit: true}` is `{lit: X}`.",
    )
    spark_func_kwargs: dict[str, FuncArg] = Field(
        default_factory=dict,
        description="Keyword arguments, with the same forms as `spark_func_args`.",
    )
    sql_expression: str | None = Field(
        default=None,
        description="A Spark SQL expression, instead of a function call, e.g. `close / open - 1`.",
    )

    # A column of static `data` rows is only a name and a type; the pipeline checks that every
    # column of a table with a source says how it is computed.
    _needs_expression: ClassVar[bool] = True

    @model_validator(mode="after")
    def _one_way_to_compute(self) -> ColumnExpression:
        computed = self.spark_func_name is not None or self.sql_expression is not None
        if not computed and not self._needs_expression:
            return self
        if (self.spark_func_name is None) == (self.sql_expression is None):
            found = "both" if self.spark_func_name else "neither"
            message = (
                f"exactly one of spark_func_name or sql_expression is required (found {found})"
            )
            raise FieldError("sql_expression", message) if found == "both" else ValueError(message)
        if self.sql_expression is not None and (self.spark_func_args or self.spark_func_kwargs):
            raise FieldError(
                "spark_func_args" if self.spark_func_args else "spark_func_kwargs",
                "spark_func_args and spark_func_kwargs need spark_func_name",
            )
        return self


class Column(ColumnExpression):
    """A column of a table, computed from the source and cast to its declared type."""

    name: str = Field(description="Column name in the output table.", min_length=1)
    type: ColumnType = Field(
        default="string",
        description="Spark SQL type the value is cast to, e.g. `double`, `timestamp`, "
        "`decimal(18,2)`, `array<string>`. Default `string`, as in Laktory v0.0.22; `_any` "
        "keeps the value's own type (no cast), as Laktory's `_any` (not for static `data` "
        "columns, whose values need a type).",
    )
    comment: str | None = Field(
        default=None,
        description="Column comment: the column's `comment` metadata in the table's schema, which "
        "the catalog shows as its comment.",
    )
    unit: str | None = Field(
        default=None,
        description="Unit of the values, e.g. `USD`: the column's `unit` metadata in the table's "
        "schema.",
    )
    catalog_name: str | None = Field(
        default=None,
        description="Laktory v0.0.22's `catalog_name` of a column, which its pipeline set to "
        "the pipeline's `catalog`: it must equal that, or validation fails.",
    )
    schema_name: str | None = Field(
        default=None,
        description="Laktory v0.0.22's `schema_name` of a column: it must equal the pipeline's "
        "`target`, or validation fails.",
    )
    table_name: str | None = Field(
        default=None,
        description="Laktory v0.0.22's `table_name` of a column: it must equal its table's "
        "name, or validation fails.",
    )
    pii: bool | None = Field(
        default=None,
        description="The column holds personally identifiable information. Recorded, as in "
        "Laktory v0.0.22, in the deployed metadata (`pipelines/<name>.json`); a `pii` column "
        "of a published table without a `mask` gets a notice from `validate`. Only a `mask` "
        "restricts the values.",
    )
    mask: ColumnMask | None = Field(
        default=None,
        description="A Unity Catalog column mask: readers see what its SQL function returns "
        "instead of the value. Set in the table's schema, so the table must be built from its "
        "declared, typed columns alone; needs a `catalog`. Databricks only.",
    )
    defined_at: DefinedAt = DEFINED_AT
    __eq__ = equal_wherever_defined

    _needs_expression: ClassVar[bool] = False

    @property
    def is_computed(self) -> bool:
        """Whether the column says how it is computed (columns of static data do not)."""
        return self.spark_func_name is not None or self.sql_expression is not None
