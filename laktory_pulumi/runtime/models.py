"""The models as a notebook sees them: `read_metadata` validates the metadata into these.

The design document's templates, and every Laktory v0.0.22 notebook, call the builder:
`table.builder.read_source(spark)`, then `table.builder.process(df, spark=spark)`, and select
tables with `table.builder.template == "SILVER"` (Laktory fills the tag with the layer). The
models only describe, so the acting lives here: these subclasses add the methods, and delegate
them to the functions the generic templates use (`runtime.tables.source_frame`,
`runtime.builders.process`), so a hand-written notebook builds what `define_table` builds.
The arrow points one way: this module imports the models, the models import nothing of it.

The metadata file is written from a pipeline the loader has validated (`metadata_bytes`), so
reading it back checks the shape of every field (pydantic's JSON validation, in one pass) but
not the rules again (across tables, of a table, of a column): they held when it was written,
and `read_metadata` is what every notebook of every update pays for. A table's columns, most
of the file, are validated when first used: a notebook builds the tables of its template only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
    model_validator,
)

from ..models.base import BackRef
from ..models.builder import TableBuilder
from ..models.column import Column, LitArg, SqlArg, ValueArg
from ..models.pipeline import Pipeline
from ..models.table import Table

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pyspark.sql import DataFrame, SparkSession


def _equal_as(self: BaseModel, other: object, base: type[BaseModel], **same: Any) -> bool:
    """Equality with the model read back or the one it was written from: the same fields,
    `defined_at` aside (as the models compare), whichever of the two classes each side is.
    `same` holds this side's values to compare instead of its own (a filled-in default)."""
    if not isinstance(other, base):
        return NotImplemented
    mine = {**self.__dict__, **same}
    theirs = dict(other.__dict__)
    for fields in (mine, theirs):
        fields.pop("defined_at", None)
        fields.pop("tests", None)  # not deployed: the metadata file leaves them out
    own = {k: v for k, v in (self.__pydantic_private__ or {}).items() if not k.startswith("_raw")}
    return mine == theirs and own == (other.__pydantic_private__ or {})


class RuntimeTableBuilder(TableBuilder):
    """A table's builder, able to read and build its table (Laktory v0.0.22's methods)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TableBuilder):
            return NotImplemented
        return self.tag == other.tag and _equal_as(
            self, other, TableBuilder, template=other.template
        )

    __hash__ = None  # type: ignore[assignment]

    def _one_source(self) -> RuntimeTableBuilder:  # type: ignore[override]
        # The builder's rules held when the file was written (see `RuntimeTable`).
        return self

    @model_validator(mode="after")
    def _laktory_tag(self) -> RuntimeTableBuilder:
        # Laktory v0.0.22's `TableBuilder.default_options`: an unset template is the layer, so a
        # notebook written for Laktory selects `builder.template == "SILVER"`.
        if self.template is None:
            self.__dict__["template"] = self.layer
        return self

    @property
    def is_from_cdc(self) -> bool:
        """Laktory v0.0.22's: the source is a change feed, applied with `apply_changes`."""
        source = self.table_source
        return source is not None and source.cdc is not None

    def read_source(self, spark: SparkSession) -> DataFrame:
        """What the table is built from: its source read (a stream when it streams), its SQL
        query, or its static rows; the frame the generic templates pass to `process`."""
        from .tables import source_frame

        return source_frame(self.table, spark)

    def process(
        self,
        df: DataFrame,
        udfs: Sequence[Callable[..., Any]] | None = None,
        spark: SparkSession | None = None,
    ) -> DataFrame:
        """The table built from `df` (what `read_source` returned), as the generic templates
        build it: joins, declared and system columns, window filter or aggregation, filter,
        deduplication, selects, drop_columns.

        `udfs` and `spark` are Laktory's parameters, accepted so its notebooks run as written:
        the functions a column calls are the pipeline's own `udfs`, imported from where the
        deploy put them (`runtime.udfs`), and the session is the frame's.
        """
        from .builders import process

        del udfs, spark
        return process(self.table, df)


Argument = str | LitArg | ValueArg | SqlArg
"""A column's argument as the metadata writes it: Laktory's forms were turned into ours when
the file was loaded, so the four forms are told apart by their one key, in pydantic's core."""


class RuntimeColumn(Column):
    """A column read back from the metadata: its shape validated, its rules not again (its type
    and its way to compute held when the file was written)."""

    type: str = Field(default="string", description="Spark SQL type the value is cast to.")
    spark_func_args: list[Argument] = Field(  # type: ignore[assignment]
        default_factory=list, description="Positional arguments."
    )
    spark_func_kwargs: dict[str, Argument] = Field(  # type: ignore[assignment]
        default_factory=dict, description="Keyword arguments."
    )

    def _one_way_to_compute(self) -> RuntimeColumn:  # type: ignore[override]
        return self

    def __eq__(self, other: object) -> bool:
        return _equal_as(self, other, Column)

    __hash__ = None  # type: ignore[assignment]


_COLUMNS: TypeAdapter[list[RuntimeColumn]] = TypeAdapter(list[RuntimeColumn])


class RuntimeTable(Table):
    """A table of the deployed metadata; its builder reads and builds it.

    Its columns are validated when first used: a notebook builds the tables of its template
    only, and a pipeline's columns are most of its metadata (a table's other fields are
    validated as the file is read).
    """

    builder: RuntimeTableBuilder = Field(description="Source and transformations.")
    columns: list[Any] = Field(  # type: ignore[assignment]
        default_factory=list, description="Columns to build; validated on first use."
    )
    _raw_columns: list[Any] | None = PrivateAttr(default=None)

    @property
    def is_from_cdc(self) -> bool:
        """Laktory v0.0.22's `Table.is_from_cdc`: its builder's."""
        return self.builder.is_from_cdc

    @model_validator(mode="after")
    def _columns_on_first_use(self) -> RuntimeTable:
        # Private attributes are written to their dict: pydantic's `__setattr__` costs more
        # than the rest of a table's validation.
        self.__pydantic_private__["_raw_columns"] = self.__dict__.pop("columns")  # type: ignore[index]
        return self

    def _attach_builder(self) -> RuntimeTable:  # type: ignore[override]
        self.builder.__pydantic_private__["_table"] = BackRef(self)  # type: ignore[index]
        return self

    def __getattr__(self, name: str) -> Any:
        if name != "columns":
            return super().__getattr__(name)  # type: ignore[misc]
        raw = self.__pydantic_private__["_raw_columns"]
        columns = _COLUMNS.validate_python(raw or [])
        self.__dict__["columns"] = columns
        self.__pydantic_private__["_raw_columns"] = None
        return columns

    @model_serializer(mode="wrap")
    def _dumped_with_columns(self, handler: SerializerFunctionWrapHandler) -> Any:
        self.columns  # noqa: B018  (validated, so that a dump holds them)
        return handler(self)

    # The rules of a table held when the file was written (`RuntimePipeline`). Pydantic calls
    # a validator by its name on the subclass, so these bodies replace the models' checks.
    @model_validator(mode="after")
    def _sql_tables_have_no_builder_source(self) -> RuntimeTable:  # type: ignore[override]
        # Redefined under the same name, this replaces the model's wrap validator, which tells
        # the builder's source rule (not checked here) whether the table is a SQL one. A wrap
        # validator receives its input as Python objects: on JSON it would have every table
        # converted first, its columns included, then validated from that copy.
        return self

    def _sql_inputs_from_the_parser(self) -> RuntimeTable:  # type: ignore[override]
        return self

    def _source_or_data(self) -> RuntimeTable:  # type: ignore[override]
        return self

    def _grants_cannot_be_deployed(self) -> RuntimeTable:  # type: ignore[override]
        return self

    def _quarantine_needs_a_drop_rule(self) -> RuntimeTable:  # type: ignore[override]
        return self

    def __eq__(self, other: object) -> bool:
        self.columns  # noqa: B018  (validated before comparing)
        return _equal_as(self, other, Table)

    __hash__ = None  # type: ignore[assignment]


def _private_attributes_set_up(cls: type[BaseModel], **defaults: Callable[[], Any]) -> None:
    """Give each instance of `cls` its private attributes in one dict, not pydantic's way.

    A model with private attributes has pydantic's `init_private_attributes` as its
    `model_post_init` (pydantic `_internal/_model_construction.py`, "if
    cls.__private_attributes__"), which looks up and copies each default one by one: a fifth of
    `read_metadata`'s time for 500 tables (bench/RESULTS.md, row 5). It is replaced after the
    class is made, since pydantic would wrap a `model_post_init` of the class body the same
    way; pydantic-core calls the method by its name, so the replacement is the one called.
    `defaults` must name every private attribute (tests/test_runtime_models.py checks it).
    """
    mismatched = set(cls.__private_attributes__) ^ set(defaults)
    if mismatched:
        raise TypeError(
            f"{cls.__name__}: defaults must name exactly its private attributes: {mismatched}"
        )
    makers = tuple(defaults.items())

    def model_post_init(self: BaseModel, context: Any, /) -> None:
        object.__setattr__(self, "__pydantic_private__", {name: make() for name, make in makers})

    cls.model_post_init = model_post_init  # type: ignore[method-assign]


_private_attributes_set_up(RuntimeTableBuilder, _table=BackRef)
_private_attributes_set_up(RuntimeTable, _pipeline=BackRef, _raw_columns=lambda: None)


class RuntimePipeline(Pipeline):
    """A pipeline read back from its deployed metadata file."""

    tables: list[RuntimeTable] = Field(  # type: ignore[assignment]
        default_factory=list, description="Tables the pipeline builds."
    )

    def __eq__(self, other: object) -> bool:
        return _equal_as(self, other, Pipeline)

    __hash__ = None  # type: ignore[assignment]

    def _rules_across_fields(self) -> RuntimePipeline:  # type: ignore[override]
        # The rules held when the loader validated the file the metadata was written from; what
        # the runtime needs of this validator is each table's link to the pipeline.
        link = BackRef(self)
        for table in self.tables:
            table.__pydantic_private__["_pipeline"] = link  # type: ignore[index]
        return self
