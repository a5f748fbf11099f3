"""The rows a test gives, as what they stand for: a table's DataFrame, or landed event files.

A test is one update from nothing over its given rows, so every source is read whole
(`as_one_batch`): streaming and batch reads then hold the same rows, and a watermark has no
earlier batch to drop rows behind. Event rows are landed as a JSON file in the test's own
landing folder (event sources with their own `events_root` are pointed there too), and read by
the pipeline's own reader: types inferred, `_source_file` and the rescued-data column set.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..metadata import metadata_bytes
from ..models import Pipeline
from ..models.column import NO_CAST

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models import Table
    from ..models.sources import EventSource


def as_one_batch(pipeline: Pipeline) -> Pipeline:
    """The pipeline with every source read whole and every event source under the landing
    root: a copy validated from its metadata, as the notebooks read it."""
    data = json.loads(metadata_bytes(pipeline))
    _read_whole(data)
    return Pipeline.model_validate(data)


def _read_whole(value: Any) -> None:
    if isinstance(value, dict):
        if "read_as_stream" in value and value.get("kinesis") is None:  # Kinesis only streams
            value["read_as_stream"] = False
        value.pop("events_root", None)
        for item in value.values():
            _read_whole(item)
    elif isinstance(value, list):
        for item in value:
            _read_whole(item)


def to_json(value: Any) -> Any:
    """YAML's dates and times as the text a JSON event would hold."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not a value of a row")


def json_lines(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, default=to_json) + "\n" for row in rows)


def land_events(source: EventSource, rows: list[dict[str, Any]], landing: Path) -> None:
    """The event rows as one JSON lines file where the source reads (under `landing`)."""
    folder = Path(source.events_path(str(landing)))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "given.json").write_text(json_lines(rows))


def declared_types(table: Table) -> dict[str, str]:
    """The table's columns that declare a type."""
    return {
        column.name: column.type
        for column in table.columns
        if column.type and column.type.strip() != NO_CAST
    }


def table_frame(
    spark: SparkSession, table: Table, rows: list[dict[str, Any]], folder: Path
) -> DataFrame:
    """The given rows of a table: declared columns cast to their type (NULL when no row names
    them), other columns with the types JSON inference gives their values."""
    from pyspark.sql import functions as F

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table.name}.json"
    path.write_text(json_lines(rows))
    read = spark.read.json(str(path))
    named: list[str] = []
    for row in rows:
        named += [key for key in row if key not in named]
    declared = declared_types(table)
    columns = [
        (F.col(f"`{name}`").cast(declared[name]) if name in declared else F.col(f"`{name}`")).alias(
            name
        )
        for name in named
    ]
    missing = {**declared, **system_types(table)}
    columns += [
        F.lit(None).cast(kind).alias(name) for name, kind in missing.items() if name not in named
    ]
    return read.select(*columns)


def system_types(table: Table) -> dict[str, str]:
    """The system columns the table ends with (`_rescued_data`, `_bronze_at`, ...), typed: a
    table reading the given one may carry them, as it would from the real table."""
    # The builder's own list, so that given rows never miss a column the real table has.
    from ..runtime.builders import _system_columns
    from ..runtime.casts import source_has_rescued_data
    from ..runtime.readers import RESCUED_DATA_COLUMN

    names = _system_columns(table)
    if source_has_rescued_data(table) and RESCUED_DATA_COLUMN not in names:
        names = [RESCUED_DATA_COLUMN, *names]  # the reader's, kept with the source's columns
    return {
        name: "timestamp" if name.endswith("_at") or name == "_tstamp" else "string"
        for name in names
    }
