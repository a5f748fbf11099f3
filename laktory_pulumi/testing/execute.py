"""One test: its tables defined from its given rows, then what they hold checked.

The tables are defined by `runtime.tables.define_table`, what the templates call on Databricks
and on SDP, with the eager backend (decorators run at once, as in a notebook debugging a
template): their expectations, quarantine tables and deduplication included. The table under
test is then read with at most three Spark jobs: the compared rows, the expected rows cast to
its types, and one aggregation for row_count, unique and conditions.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..models import Pipeline
from ..models.sources import EventSource
from ..models.table_test import ExpectedRows, TableTest, event_source_names, tables_between
from ..runtime import dlt
from ..runtime.readers import LANDING_ROOT_KEY, SCHEMA_ROOT_KEY
from ..runtime.tables import define_table
from ..runtime.udfs import modules_from_source
from .compare import diff_rows, shown_row
from .inputs import land_events, table_frame, to_json

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import DataType

MAX_ROWS = 10_000
"""Rows of the table under test compared at most: tests are small by design."""
EXAMPLES = 3
"""Rows shown for a failed condition or a duplicated key."""

Status = Literal["passed", "failed", "error"]


@dataclass
class Outcome:
    """How one test went; `lines` say why when it did not pass."""

    test: TableTest
    pipeline: str
    location: str
    status: Status = "passed"
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON lines file, one object per line."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_test(
    spark: SparkSession,
    batch: Pipeline,
    test: TableTest,
    *,
    pipeline: str,
    location: str,
    project: Path,
    folder: Path,
) -> Outcome:
    """Run `test` on `batch` (its pipeline read as one batch, `inputs.as_one_batch`), its
    files under `folder` (emptied first)."""
    started = time.monotonic()
    outcome = Outcome(test=test, pipeline=pipeline, location=location)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    previous_spark = dlt.spark
    dlt.spark = spark
    backend = dlt.use_backend("eager")
    try:
        spark.conf.set(LANDING_ROOT_KEY, str(folder / "landing"))
        spark.conf.set(SCHEMA_ROOT_KEY, str(folder / "schemas"))
        with modules_from_source(project / "notebooks"):
            built = tables_between(batch, test)
            for given in test.given:
                rows = (
                    given.rows if given.rows is not None else read_rows(project / str(given.file))
                )
                if given.table is not None:
                    table = batch.table(given.table)
                    backend.frames[table.name] = table_frame(spark, table, rows, folder / "given")
                else:
                    land_events(
                        _event_source(built, str(given.event_source)), rows, folder / "landing"
                    )
            for table in built:
                define_table(table, spark)
            frame = backend.get_df(test.table)
            outcome.lines = check(spark, frame, test.expect, test.table, project)
        outcome.status = "failed" if outcome.lines else "passed"
    except Exception as error:  # Spark's errors differ between versions; one line each
        outcome.status = "error"
        outcome.lines = [first_line(error)]
    finally:
        dlt.use_backend(None)
        dlt.spark = previous_spark
    outcome.seconds = time.monotonic() - started
    return outcome


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def _event_source(tables: list[Any], name: str) -> EventSource:
    for table in tables:
        for source in table.builder.sources:
            if isinstance(source, EventSource) and name in event_source_names(source):
                return source
    raise KeyError(f"no table under test reads the event source {name}")  # validation says


def check(
    spark: SparkSession, frame: DataFrame, expect: ExpectedRows, table: str, project: Path
) -> list[str]:
    """What the table holds that the test does not expect (no line: it passed)."""
    lines: list[str] = []
    if expect.rows is not None or expect.file is not None:
        rows = expect.rows if expect.rows is not None else read_rows(project / str(expect.file))
        lines += _compare_rows(spark, frame, expect, rows, table)
    if expect.row_count is not None or expect.unique or expect.conditions:
        lines += _check_conditions(frame, expect)
    return lines


def _compare_rows(
    spark: SparkSession,
    frame: DataFrame,
    expect: ExpectedRows,
    rows: list[dict[str, Any]],
    table: str,
) -> list[str]:
    from pyspark.sql import functions as F

    columns = list(expect.columns or [])
    if not columns:
        for row in rows:
            columns += [key for key in row if key not in columns]
    schema = frame.schema
    unknown = [name for name in columns if name not in schema.fieldNames()]
    if unknown:
        return [
            f"{', '.join(unknown)}: not a column of {table} (its columns: "
            f"{', '.join(schema.fieldNames())})"
        ]
    chosen = frame.orderBy(*(F.expr(e) for e in expect.order_by)) if expect.order_by else frame
    found = [
        tuple(row)
        for row in chosen.select(*(F.col(f"`{name}`") for name in columns))
        .limit(MAX_ROWS + 1)
        .collect()
    ]
    types = {name: schema[name].dataType for name in columns}
    expected = [tuple(row) for row in _typed_rows(spark, rows, columns, types).collect()]
    diff = diff_rows(
        columns,
        expected,
        found[:MAX_ROWS],
        ordered=expect.order_by is not None,
        tolerance=expect.tolerance,
    )
    if len(found) > MAX_ROWS:
        return [f"{table} holds more than {MAX_ROWS:,} rows: a table test compares fewer"]
    return [] if diff.empty else diff.lines()


def _typed_rows(
    spark: SparkSession, rows: list[dict[str, Any]], columns: list[str], types: dict[str, DataType]
) -> DataFrame:
    """The expected rows, each value cast to the type of its column in the table."""
    from pyspark.sql import functions as F

    if not rows:
        empty = [F.lit(None).cast(types[name]).alias(name) for name in columns]
        return spark.range(1).select(*empty).where("false")
    structs = [
        F.struct(*(_typed(row.get(name), types[name]).alias(name) for name in columns))
        for row in rows
    ]
    return spark.range(1).select(F.inline(F.array(*structs)))


def _typed(value: Any, kind: DataType) -> Column:
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, MapType, StructType

    if value is None:
        return F.lit(None).cast(kind)
    if isinstance(kind, (StructType, ArrayType, MapType)):
        return F.from_json(F.lit(json.dumps(value, default=to_json)), kind)
    if not isinstance(value, (str, int, float, bool)):
        value = to_json(value)
    return F.lit(value).cast(kind)


def _check_conditions(frame: DataFrame, expect: ExpectedRows) -> list[str]:
    """row_count, unique and conditions, in one Spark job (examples only on failure)."""
    from pyspark.sql import functions as F

    def failing(condition: str) -> Column:
        return ~F.coalesce(F.expr(condition), F.lit(False))

    measures = [F.count(F.lit(1)).alias("rows")]
    if expect.unique:
        key = F.struct(*(F.col(f"`{name}`") for name in expect.unique))
        measures.append((F.count(F.lit(1)) - F.count_distinct(key)).alias("duplicates"))
    measures += [
        F.count_if(failing(condition)).alias(f"condition_{position}")
        for position, condition in enumerate(expect.conditions)
    ]
    result = frame.agg(*measures).first()
    assert result is not None  # an aggregation without grouping has one row
    lines: list[str] = []
    rows = int(result["rows"])
    if expect.row_count is not None and rows != expect.row_count:
        lines.append(f"row_count: expected {expect.row_count:,}, found {rows:,}")
    if expect.unique and result["duplicates"]:
        keys = (
            frame.groupBy(*(F.col(f"`{name}`") for name in expect.unique))
            .count()
            .where("count > 1")
            .limit(EXAMPLES)
            .collect()
        )
        lines.append(
            f"unique {', '.join(expect.unique)}: {int(result['duplicates']):,} rows repeat a key, "
            "e.g.:"
        )
        lines += [
            f"  {shown_row(expect.unique, list(key)[:-1])} ({key['count']} rows)" for key in keys
        ]
    for position, condition in enumerate(expect.conditions):
        failed = int(result[f"condition_{position}"])
        if failed:
            lines.append(f"condition `{condition}` fails on {failed:,} of {rows:,} rows, e.g.:")
            for row in frame.where(failing(condition)).limit(EXAMPLES).collect():
                text = shown_row(list(row.asDict()), list(row))
                lines.append(f"  {text if len(text) <= 200 else text[:197] + '...'}")
    return lines
