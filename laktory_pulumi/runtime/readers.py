"""`TableBuilder.read_source`: a table's source as a DataFrame.

Event sources are read with Auto Loader on Databricks and with Spark's file source elsewhere;
table sources through the pipeline (`dlt.read` / `dlt.read_stream`) when they belong to it, and
with `spark.table` when they are external.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..metadata import on_databricks
from ..models.schema_hints import hinted_ddl
from .analysis import outside_query_context
from .case_variants import read_matching_case
from .csv_headers import header_of, out_of_order, read_by_header
from .schema_merge import case_variants, grow, with_hints

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from ..models import Table
    from ..models.sources import EventSource, TableSource

LANDING_ROOT_KEY = "landing_root"
LANDING_ROOT_ENV = "LAKTORY_LANDING_ROOT"
SCHEMA_ROOT_KEY = "laktory_schema_root"
RESCUED_DATA_COLUMN = "_rescued_data"
"""Where a bad record goes: Auto Loader's rescued-data column, the JSON/CSV corrupt-record
column elsewhere. Its name is the same in both places so counts and queries do not change."""
SOURCE_FILE_COLUMN = "_source_file"
"""The landed file each event row came from (the file source's `_metadata.file_path`, which
Auto Loader has too), so a rescued or quarantined row can be traced back to its file."""


SKIP_CHANGE_COMMITS = "skipChangeCommits"
"""Delta's streaming read option that skips the commits changing or deleting rows."""


class SourceError(RuntimeError):
    """A source cannot be read: no landing root, no files to infer a schema from."""


def read_source(table: Table, spark: SparkSession, **options: Any) -> DataFrame:
    """Read `table`'s source; `options` add to (and override) the source's reader options."""
    builder = table.builder
    if builder.appends:
        # Built by one append flow per source (`runtime.flows`); read whole it is their rows
        # together, each source read as its flow reads it, matched by column name.
        frames = [
            read_listed(table, source, spark, builder.flow_name(source), options)
            for source in builder.sources
        ]
        union = frames[0]
        for frame in frames[1:]:
            union = union.unionByName(frame, allowMissingColumns=True)
        return union
    if builder.event_source is not None:
        return read_events(table, builder.event_source, spark, options)
    assert builder.table_source is not None  # the model guarantees exactly one source
    whole = builder.recomputes_whole and not on_databricks()
    return read_table_source(builder.table_source, spark, whole=whole)


def read_listed(
    table: Table,
    source: EventSource | TableSource,
    spark: SparkSession,
    key: str,
    options: dict[str, Any] | None = None,
) -> DataFrame:
    """One source of a table listing several, read as a single source would be; `key` (the
    source's flow) keeps its own event schema."""
    from ..models.sources import EventSource

    if isinstance(source, EventSource):
        return read_events(table, source, spark, options or {}, key=key)
    return read_table_source(source, spark)


# Event files -------------------------------------------------------------------------------


def landing_root(spark: SparkSession) -> str:
    """The environment's landing root: pipeline configuration, else `$LAKTORY_LANDING_ROOT`."""
    root = spark.conf.get(LANDING_ROOT_KEY, None) or os.environ.get(LANDING_ROOT_ENV)
    if not root:
        raise SourceError(
            f"no landing root: set the pipeline configuration key '{LANDING_ROOT_KEY}' (or "
            f"${LANDING_ROOT_ENV}), or give the event source an events_root"
        )
    return root


def read_events(
    table: Table,
    source: EventSource,
    spark: SparkSession,
    options: dict[str, Any],
    key: str | None = None,
) -> DataFrame:
    """Landed event files: a stream of new files, or every file when not `read_as_stream`.

    `key` (default: the table's name) names the kept schema and Auto Loader's schema location;
    a table appending several event sources gives each its own (`runtime.flows`).
    """
    if source.is_stream:  # Kafka, Event Hubs, Kinesis: `runtime/stream_readers.py`
        from .stream_readers import read_stream_source

        return read_stream_source(source, spark)
    key = key or table.name
    path = source.events_path(None if source.events_root else landing_root(spark))
    file_format = source.format.lower()
    reader_options = {**source.spark_options, **{key: str(value) for key, value in options.items()}}
    if on_databricks():
        frame = _auto_loader(key, source, spark, path, file_format, reader_options)
        return with_source_file(frame)
    if file_format in ("json", "csv"):
        # Bad lines are kept, their text in the rescued column, instead of being dropped.
        reader_options.setdefault("mode", "PERMISSIVE")
        reader_options.setdefault("columnNameOfCorruptRecord", RESCUED_DATA_COLUMN)
    # Files in dated sub-folders (`orders/2024-01-01/o1.json`) are read, as Auto Loader reads
    # every file under its path; Spark's file source reads only the folder's own files unless
    # told (its schema was inferred from those very files, so they would vanish unread).
    reader_options.setdefault("recursiveFileLookup", "true")
    schema, variants, headers = _event_schema(
        table, key, source, spark, path, file_format, reader_options
    )
    if source.declares_columns and "://" not in path:
        # A fresh landing volume holds no folder yet: with a declared schema there is nothing
        # to infer, and the first update reads an empty folder instead of failing on a missing
        # one (PATH_NOT_FOUND).
        Path(path).mkdir(parents=True, exist_ok=True)
    reader = spark.readStream if source.read_as_stream else spark.read
    if variants and file_format == "json" and not _multi_line(reader_options):
        assert not isinstance(schema, str)  # a declared schema_ddl has no kept variants
        return read_matching_case(
            reader, path, reader_options, schema, variants, SOURCE_FILE_COLUMN
        )
    rescued = reader_options.get("columnNameOfCorruptRecord", RESCUED_DATA_COLUMN)
    if headers and not isinstance(schema, str) and out_of_order(schema, headers, rescued):
        return read_by_header(
            reader, path, reader_options, schema, headers, rescued, SOURCE_FILE_COLUMN
        )
    frame = reader.format(file_format).options(**reader_options).schema(schema).load(path)
    return with_source_file(frame)


def _multi_line(options: dict[str, str]) -> bool:
    return str(options.get("multiLine", options.get("multiline", "false"))).lower() == "true"


def with_source_file(frame: DataFrame) -> DataFrame:
    """The frame of a file source with `_source_file`: the path of each row's file.

    `_metadata` is the hidden file-metadata column of Spark's file sources and of Auto Loader
    (Databricks docs, "File metadata column").
    """
    from pyspark.sql import functions as F

    return frame.select("*", F.col("_metadata.file_path").alias(SOURCE_FILE_COLUMN))


def _auto_loader(
    key: str,
    source: EventSource,
    spark: SparkSession,
    path: str,
    file_format: str,
    options: dict[str, str],
) -> DataFrame:
    """Auto Loader: column types inferred, bad values in `_rescued_data`.

    Inside a DLT pipeline the schema location is managed by DLT; elsewhere (a notebook
    debugging a template) it goes under `laktory_schema_root` when that is set.
    """
    if not source.read_as_stream:
        # Auto Loader lists sub-folders; a plain batch read does only with this option.
        nested = {"recursiveFileLookup": "true", **options}
        reader = spark.read.format(file_format).options(**nested)
        if source.schema_ddl:
            return reader.schema(source.schema_ddl).load(path)
        if source.schema_hints:
            # Spark's batch reader takes no hints: the inferred schema with the hinted types
            # (the hinted columns alone when nothing has landed), as Auto Loader reads.
            hinted = _hinted_schema(spark, source)
            if holds_no_file(path):
                return reader.schema(hinted_ddl(source.schema_hints)).load(path)
            return reader.schema(with_hints(reader.load(path).schema, hinted)).load(path)
        return reader.load(path)
    auto = {
        "cloudFiles.format": file_format,
        "cloudFiles.inferColumnTypes": "true",
        "rescuedDataColumn": RESCUED_DATA_COLUMN,
        **options,
    }
    empty = bool(source.schema_hints) and not source.schema_ddl and holds_no_file(path)
    if source.schema_hints and not empty:
        auto.setdefault("cloudFiles.schemaHints", source.schema_hints)
    schema_root = spark.conf.get(SCHEMA_ROOT_KEY, None)
    if schema_root:
        auto.setdefault("cloudFiles.schemaLocation", f"{schema_root.rstrip('/')}/{key}")
    reader = spark.readStream.format("cloudFiles").options(**auto)
    if source.schema_ddl:
        reader = reader.schema(source.schema_ddl)
    elif empty:
        # Auto Loader infers the columns it is not hinted from files, and an empty folder has
        # none (CF_EMPTY_DIR_FOR_SCHEMA_INFERENCE: "start the stream when there are files in
        # the input path, or specify the schema"). This update reads the hinted columns as the
        # whole schema (a given schema: new fields go to the rescued column, nothing is lost);
        # the next update, with files landed, infers and grows the schema from the hints.
        reader = reader.schema(hinted_ddl(source.schema_hints))
    return reader.load(path)


def holds_no_file(path: str) -> bool:
    """A folder of the file system (a Unity Catalog volume's `/Volumes/...` path, which
    Unity Catalog compute reads as files) that holds no data file yet, or does not exist.

    A URI (`abfss://`) is not listed: it counts as holding files, so Auto Loader infers.
    """
    local = path.removeprefix("file:")
    if "://" in local:
        return False
    root = Path(local)
    if not root.is_dir():
        return True
    for _, folders, files in os.walk(root):
        folders[:] = [name for name in folders if not name.startswith((".", "_"))]
        if any(not name.startswith((".", "_")) for name in files):
            return False
    return True


def _event_schema(
    table: Table,
    key: str,
    source: EventSource,
    spark: SparkSession,
    path: str,
    file_format: str,
    options: dict[str, str],
) -> tuple[StructType | str, dict[str, str], dict[str, list[str]]]:
    """The declared schema (DDL), else the kept schema grown with the files landed since; with
    the field spellings that differ from it only in case (`runtime.case_variants`) and the
    header of each CSV file (`runtime.csv_headers`).

    As Auto Loader's `addNewColumns`: the schema inferred from the first files is kept (under
    `laktory_schema_root`, which local runs set) and, at each run, merged with the schema of the
    files landed since (`schema_merge.grow`): a new field is added, a type is never narrowed,
    and a value of another type is rescued by the reader instead of changing its column. A
    string kept from a bad first file gives way to the struct or array later files hold.
    """
    rescued = options.get("columnNameOfCorruptRecord")
    if source.schema_ddl:
        # Kept as DDL text: parsing it into a StructType asks the Spark Connect server, which
        # is an analysis SDP refuses inside query functions.
        extra = f", `{rescued}` STRING" if rescued and rescued not in source.schema_ddl else ""
        return source.schema_ddl + extra, {}, {}
    kept_file = _kept_schema_file(key, spark)
    kept = _read_kept(table, kept_file)
    seen = _read_seen(kept_file)
    landed = _landed_files(path)
    new = None if landed is None else sorted(set(landed) - seen)
    known_variants = _read_kept_json(kept_file, "case-variants")
    known_headers = _read_kept_json(kept_file, "csv-headers")
    hinted = _hinted_schema(spark, source)
    if kept is not None and new == []:
        return with_hints(kept, hinted), known_variants, known_headers
    if hinted is not None and kept is None and not landed and "://" not in path:
        # Nothing landed yet: the hinted columns are the schema of this read, as on Databricks
        # (`_auto_loader`); nothing is kept, so the first files are inferred when they land.
        return _with_rescued_column(hinted, rescued), {}, {}
    inferred, per_file = _infer_new_files(table, spark, new or path, file_format, options)
    inferred = _without_column(inferred, rescued)
    grown = inferred if kept is None else grow(kept, inferred)
    schema = _with_rescued_column(with_hints(grown, hinted), rescued)
    variants = dict(known_variants)
    for file_schema in per_file:
        variants.update(case_variants(schema, file_schema))
    headers = dict(known_headers)
    if file_format == "csv":
        for file in new or []:
            header = header_of(file, options)
            if header is not None:
                headers[file] = header
    if kept_file is not None:
        for name, value in (("case-variants", variants), ("csv-headers", headers)):
            if value:
                _write_atomically(_kept_json_file(kept_file, name), json.dumps(value))
        _write_atomically(kept_file, json.dumps(schema.jsonValue(), indent=2))
        if landed is not None:
            _write_atomically(_seen_file(kept_file), json.dumps(sorted(seen | set(landed))))
    return schema, variants, headers


def _hinted_schema(spark: SparkSession, source: EventSource) -> StructType | None:
    """The struct of the hinted columns, parsed by Spark (outside any query function)."""
    if not source.schema_hints:
        return None
    from pyspark.sql.types import StructType

    ddl = hinted_ddl(source.schema_hints)
    parsed = outside_query_context(lambda: StructType.fromDDL(ddl))
    assert isinstance(parsed, StructType)
    return parsed


PER_FILE_INFERENCE_LIMIT = 32
"""Up to this many new files, each file's schema is inferred alone and merged with `grow`."""


def _infer_new_files(
    table: Table,
    spark: SparkSession,
    files: str | list[str],
    file_format: str,
    options: dict[str, str],
) -> tuple[StructType, list[StructType]]:
    """The schema of newly landed files, and those inferred file by file.

    Spark's own inference over several files turns a field that is a struct in some and a
    string in others into a string, so a bad file landed with good ones would still fix the
    wrong type; inferring each file alone and merging with `grow` keeps the struct (and the
    reader rescues the odd line). Past `PER_FILE_INFERENCE_LIMIT` files (one Spark job each),
    the files are inferred together and with a sample of them alone, so that one bad file of
    many (a scalar where the others hold a struct) still cannot turn the struct into a string.
    """
    if isinstance(files, str):
        joint = _infer(table, spark, files, file_format, options)
        return joint, [joint]
    alone = files
    merged = None
    if len(files) > PER_FILE_INFERENCE_LIMIT:
        # A sample spread over the files, each alone; the joint inference brings what the
        # others add. A struct the sample holds survives a bad file outside it (`grow` keeps
        # the struct over the string the joint inference made of it).
        step = len(files) / PER_FILE_INFERENCE_LIMIT
        alone = [files[int(index * step)] for index in range(PER_FILE_INFERENCE_LIMIT)]
        merged = _infer(table, spark, [glob_escaped(file) for file in files], file_format, options)
    per_file = [] if merged is None else [merged]
    for file in alone:
        schema = _infer(table, spark, [glob_escaped(file)], file_format, options)
        per_file.append(schema)
        merged = schema if merged is None else grow(merged, schema, widen=True)
    assert merged is not None  # `files` is never empty here
    return merged, per_file


_GLOB_CHARACTERS = re.compile(r"([\\\[\]{}*?])")


def glob_escaped(path: str) -> str:
    """A file's path as Spark's file source takes it literally: Hadoop reads `[`, `{`, `*`,
    `?` in a path as a pattern (a file named `o[5].json` matches no file), and a backslash
    escapes them."""
    return _GLOB_CHARACTERS.sub(r"\\\1", path)


def _read_kept(table: Table, kept_file: Path | None) -> StructType | None:
    from pyspark.sql.types import StructType

    if kept_file is None or not kept_file.exists():
        return None
    try:
        return StructType.fromJson(json.loads(kept_file.read_text()))
    except (ValueError, KeyError, TypeError) as error:
        raise SourceError(
            f"table {table.name}: the kept event schema {kept_file} is unreadable ({error}); "
            "delete it to infer the schema again"
        ) from None


def _kept_json_file(kept_file: Path, name: str) -> Path:
    return kept_file.with_name(f"{kept_file.stem}.{name}.json")


def _read_kept_json(kept_file: Path | None, name: str) -> dict[str, Any]:
    """What is kept beside the schema: `case-variants`, the field spellings landed files used
    that differ only in case from the kept schema's, by dotted path (`{"data.Amount":
    "data.amount"}`); `csv-headers`, each CSV file's column names."""
    if kept_file is None or not _kept_json_file(kept_file, name).exists():
        return {}
    try:
        return dict(json.loads(_kept_json_file(kept_file, name).read_text()))
    except ValueError:
        return {}


def _seen_file(kept_file: Path) -> Path:
    return kept_file.with_name(kept_file.stem + ".files.json")


def _read_seen(kept_file: Path | None) -> set[str]:
    """The files whose schema is already in the kept schema."""
    if kept_file is None or not _seen_file(kept_file).exists():
        return set()
    try:
        return set(json.loads(_seen_file(kept_file).read_text()))
    except ValueError:
        return set()


def _landed_files(path: str) -> list[str] | None:
    """The data files of a local landing folder (hidden and partial files left out, as Spark's
    file source does); None for a remote path, whose files Spark lists itself."""
    local = path.removeprefix("file:")
    if "://" in local or not Path(local).is_dir():
        return None
    root = Path(local)
    return [
        str(file)
        for file in root.rglob("*")
        if file.is_file()
        and not any(part.startswith((".", "_")) for part in file.relative_to(root).parts)
    ]


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(target)


def _without_column(schema: StructType, name: str | None) -> StructType:
    from pyspark.sql.types import StructType

    return StructType([field for field in schema.fields if field.name != name])


def _kept_schema_file(key: str, spark: SparkSession) -> Path | None:
    schema_root = spark.conf.get(SCHEMA_ROOT_KEY, None)
    return Path(schema_root) / f"{key}.json" if schema_root else None


def _infer(
    table: Table,
    spark: SparkSession,
    path: str | list[str],
    file_format: str,
    options: dict[str, str],
) -> StructType:
    def infer() -> StructType:
        try:
            return spark.read.format(file_format).options(**options).load(path).schema
        except Exception as error:  # classic and Connect raise different AnalysisException types
            if "PATH_NOT_FOUND" in str(error) or "UNABLE_TO_INFER_SCHEMA" in str(error):
                raise SourceError(
                    f"table {table.name}: no {file_format.upper()} files at {path} to infer the "
                    "event schema from; land files there first, or declare "
                    "event_source.schema_hints (the columns read) or schema_ddl"
                ) from None
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else error
            raise SourceError(
                f"table {table.name}: cannot infer the event schema of {path}: {first_line}"
            ) from None

    return outside_query_context(infer)


def _with_rescued_column(schema: StructType, rescued: str | None) -> StructType:
    from pyspark.sql.types import StringType, StructField, StructType

    if rescued is None or rescued in schema.fieldNames():
        return schema
    return StructType([*schema.fields, StructField(rescued, StringType(), nullable=True)])


# Tables ------------------------------------------------------------------------------------


def read_table_source(
    source: TableSource, spark: SparkSession, *, whole: bool = False
) -> DataFrame:
    """Another table: through the pipeline when it is one of its own, else from the catalog.

    The source's filter and selects apply, and its watermark on streams. `whole` reads a
    streamed source whole: a streaming aggregation without watermark, which DLT rewrites in
    full at each update (`TableBuilder.recomputes_whole`), is a materialized view locally,
    where Spark Declarative Pipelines writes streams in append mode only.
    """
    from . import dlt

    skips = source.skip_change_commits and source.read_as_stream
    if skips and not source.is_external and not on_databricks():
        # A CDC target is a materialized view locally (`runtime.dlt_sdp`), recomputed at each
        # update: read whole, its current rows (validate notes the difference).
        whole = True
    streamed = source.read_as_stream and not whole
    watermark = source.watermark if streamed else None
    if source.is_external or (skips and streamed):
        # Unqualified parts resolve to the session's current catalog and schema, which are the
        # pipeline's (Databricks DLT: "the catalog and schema configured for the pipeline are
        # the defaults"; locally the SDP spec's catalog and database). A table of the pipeline
        # streamed with an option is read by its name too (`dlt.read_stream` takes no option;
        # DLT resolves `spark.readStream.table` to the pipeline's dataset).
        reader = spark.readStream if streamed else spark.read
        if skips and streamed:
            reader = reader.option(SKIP_CHANGE_COMMITS, "true")
        name = source.catalog_table_name if source.is_external else source.name
        frame = reader.table(name)
        if watermark is not None:
            frame = frame.withWatermark(watermark.column, watermark.threshold)
    elif watermark is not None:
        frame = dlt.read_stream_with_watermark(source.name, watermark.column, watermark.threshold)
    elif streamed:
        frame = dlt.read_stream(source.name)
    else:
        frame = dlt.read(source.name)
    if source.filter:
        frame = frame.where(source.filter)
    if source.selects is not None:
        frame = frame.select(*selection(source.selects))
    return frame


def selection(selects: list[str] | dict[str, str]) -> list[Any]:
    """Columns of a `selects` field: names kept, or `name -> new name` renamed."""
    from pyspark.sql import functions as F

    if isinstance(selects, dict):
        return [F.col(name).alias(new) for name, new in selects.items()]
    return [F.col(name) for name in selects]
