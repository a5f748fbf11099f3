"""Catalog tables as the deep check sees them: empty frames of their declared columns.

A table may read a table of the catalog (`table_source` or a join's `other` named
`catalog.schema.table`), which the runtime reads with `spark.read.table` / `spark.readStream
.table`. The analysis session has no such table; the source's `schema_ddl` says its columns.
`CatalogStandIn` is the session handed to the table definitions during the analysis: it answers
those reads with an empty frame of the declared schema and passes everything else to the real
session. A catalog table without a declared schema raises `CatalogTableUnknown`, which the deep
check reports as a notice (the table is not analysed), never as a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from ..models import Pipeline, Table
from ..models.sources import TableSource
from .backend import UpstreamMissing

FieldPath = tuple[str | int, ...]


class CatalogTableUnknown(LookupError):
    """A catalog table is read whose columns no source declares."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def catalog_sources(pipeline: Pipeline) -> Iterator[tuple[FieldPath, TableSource]]:
    """Every source of the pipeline that reads a catalog table, with its path in the file."""
    for index, table in enumerate(pipeline.tables):
        yield from table_catalog_sources(index, table)


def table_catalog_sources(index: int, table: Table) -> Iterator[tuple[FieldPath, TableSource]]:
    """The sources of the pipeline's table `index` that read a catalog table, with their paths."""
    builder = table.builder
    here: FieldPath = ("tables", index, "builder")
    if builder.table_source is not None and builder.table_source.is_external:
        yield (*here, "table_source"), builder.table_source
    for position, source in enumerate(builder.table_sources or []):
        if source.is_external:
            yield (*here, "table_sources", position), source
    for field in ("joins", "joins_post_aggregation"):
        for position, join in enumerate(getattr(builder, field)):
            if join.other.is_external:
                yield (*here, field, position, "other"), join.other


def parse_schema(spark: SparkSession, ddl: str) -> StructType:
    """The schema of a DDL string, parsed by Spark (raises on a bad one)."""
    parsed = StructType.fromDDL(ddl) if hasattr(StructType, "fromDDL") else None
    if parsed is None:  # pragma: no cover - pyspark before 4.0
        parsed = spark.createDataFrame([], ddl).schema
    return parsed


class CatalogStandIn:
    """The real session, except that catalog tables are read as empty declared frames."""

    def __init__(
        self, spark: SparkSession, schemas: dict[str, StructType | None], empty_folder: Path
    ) -> None:
        """`schemas`: the declared catalog tables, None for a declaration Spark refused."""
        self._spark = spark
        self._schemas = schemas
        self._empty_folder = empty_folder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spark, name)

    @property
    def read(self) -> _Reader:
        return _Reader(self, stream=False)

    @property
    def readStream(self) -> _Reader:  # pyspark's name
        return _Reader(self, stream=True)

    def catalog_frame(self, name: str, *, stream: bool) -> DataFrame | None:
        """An empty frame of the declared catalog table `name`; None when `name` is not a
        catalog name (a table or view of the session)."""
        if "." not in name:
            return None
        if name not in self._schemas:
            raise CatalogTableUnknown(name)
        schema = self._schemas[name]
        if schema is None:  # declared, but wrong: that declaration's finding says so
            raise UpstreamMissing(name)
        if stream:
            reader = self._spark.readStream.schema(schema).format("json")
            return reader.load(str(self._empty_folder))
        return self._spark.createDataFrame([], schema)


class _Reader:
    """`spark.read` / `spark.readStream` whose `table` knows the declared catalog tables."""

    def __init__(self, session: CatalogStandIn, *, stream: bool) -> None:
        self._session = session
        self._stream = stream

    def _real(self) -> Any:
        spark = self._session._spark
        return spark.readStream if self._stream else spark.read

    def table(self, name: str) -> DataFrame:
        frame = self._session.catalog_frame(name, stream=self._stream)
        return frame if frame is not None else self._real().table(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)
