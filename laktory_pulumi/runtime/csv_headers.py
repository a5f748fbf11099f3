"""CSV columns matched by their header's names, as Auto Loader matches them.

Spark's CSV source applies a schema by position (`enforceSchema`, its default, ignores the
header; `enforceSchema=false` fails the file whose header is in another order). A file landed
with its columns in another order then put each value in another column (order_id=7.25,
customer=3) and the row was lost downstream (issue #24, case 7). Auto Loader reads CSV columns
by header name (Databricks docs, "Configure schema inference and evolution in Auto Loader",
https://docs.databricks.com/en/ingestion/cloud-object-storage/auto-loader/schema.html).

Locally, the header of each landed file is read when its schema is (`readers._event_schema`),
and kept beside the schema. While every file's header is in the kept schema's order, the CSV
source reads as before. Once one is not, the source is read as text: each line is parsed into
its fields by Spark's CSV parser (`from_csv`), header lines are left out, each kept column
takes the field its file's header names, and a value that does not cast to its column is NULL
with the line in `_rescued_data`, as the CSV source's PERMISSIVE mode does.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, DataFrameReader
    from pyspark.sql.streaming import DataStreamReader
    from pyspark.sql.types import StructType

_FIELD = "__laktory_field_{}"
_TEXT_TYPES = ("string", "varchar", "char")


def header_of(file: str, options: dict[str, str]) -> list[str] | None:
    """The column names the first line of a local CSV file holds (None without a header)."""
    if str(options.get("header", "false")).lower() != "true":
        return None
    try:
        with Path(file).open(newline="", encoding=options.get("encoding", "utf-8")) as text:
            row = next(csv.reader(text, delimiter=_separator(options)), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return [name.strip() for name in row] if row else None


def _separator(options: dict[str, str]) -> str:
    return options.get("sep", options.get("delimiter", ",")) or ","


def out_of_order(schema: StructType, headers: dict[str, list[str]], rescued: str | None) -> bool:
    """Whether a file's header orders its columns otherwise than the kept schema."""
    names = [field.name.lower() for field in schema.fields if field.name != rescued]
    return any(
        [name.lower() for name in header] != names[: len(header)] for header in headers.values()
    )


def read_by_header(
    reader: DataFrameReader | DataStreamReader,
    path: str,
    options: dict[str, str],
    schema: StructType,
    headers: dict[str, list[str]],
    rescued: str,
    source_file_column: str,
) -> DataFrame:
    """CSV lines at `path` read as `schema`, each column taken from the field its file's
    header names (files of unknown header: by position)."""
    from pyspark.sql import functions as F

    columns = [field for field in schema.fields if field.name != rescued]
    orders = sorted({tuple(header) for header in headers.values()})
    width = max([len(columns), *(len(order) for order in orders)])
    ddl = ", ".join(f"`{_FIELD.format(index)}` STRING" for index in range(width))
    parse = {"sep": _separator(options), "mode": "PERMISSIVE"}
    for option in ("quote", "escape", "encoding"):
        if option in options:
            parse[option] = options[option]
    lines = (
        reader.format("text")
        .options(recursiveFileLookup=options.get("recursiveFileLookup", "true"))
        .load(path)
    )
    file_uri = F.col("_metadata.file_path")
    local = F.url_decode(F.regexp_replace(file_uri, "^file:(//)?", ""))
    by_file = F.create_map(
        *[
            part
            for file, header in headers.items()
            for part in (F.lit(file), F.lit(orders.index(tuple(header))))
        ]
    )
    parsed = lines.select(
        F.col("value"),
        F.from_csv(F.col("value"), ddl, parse).alias("fields"),
        F.element_at(by_file, local).alias("order"),
        file_uri.alias(source_file_column),
    )
    fields = [F.col("fields").getField(_FIELD.format(index)) for index in range(width)]

    def text_of(name: str) -> Column:
        picks = [
            F.when(F.col("order") == number, fields[_position(order, name)])
            for number, order in enumerate(orders)
            if _position(order, name) is not None
        ]
        position = [field.name.lower() for field in columns].index(name.lower())
        return F.coalesce(*picks, F.when(F.col("order").isNull(), fields[position]))

    is_header = F.lit(False)
    for number, order in enumerate(orders):
        same = F.lit(True)
        for index, name in enumerate(order):
            same = same & (F.trim(fields[index]) == F.lit(name))
        is_header = is_header | ((F.col("order") == number) & same)
    texts = {field.name: text_of(field.name) for field in columns}
    typed = {
        field.name: texts[field.name].try_cast(field.dataType)
        if field.dataType.typeName() not in _TEXT_TYPES
        else texts[field.name]
        for field in columns
    }
    failed = F.lit(False)
    for field in columns:
        if field.dataType.typeName() not in _TEXT_TYPES:
            failed = failed | (texts[field.name].isNotNull() & typed[field.name].isNull())
    return parsed.where(~F.coalesce(is_header, F.lit(False))).select(
        *[typed[field.name].alias(field.name) for field in columns],
        F.when(failed, F.col("value")).alias(rescued),
        source_file_column,
    )


def _position(order: tuple[str, ...], name: str) -> int | None:
    lowered = [item.lower() for item in order]
    return lowered.index(name.lower()) if name.lower() in lowered else None
