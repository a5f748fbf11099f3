"""A stream source's records as bronze rows: Kafka and Event Hubs (Databricks' Kafka connector),
Kinesis (its Kinesis connector), or, off Databricks, the same records replayed from files.

Bronze gets one shape whatever the stream and wherever it runs (docs/streams.md):

| column | type | Kafka / Event Hubs | Kinesis |
| --- | --- | --- | --- |
| `key` | STRING | the record key, UTF-8 | `partitionKey` |
| `value` | STRUCT (json), STRING or BINARY | the value, parsed by `schema_ddl` | `data` |
| `topic` | STRING | `topic` | `stream` |
| `partition` | INT (Kinesis: STRING) | `partition` | `shardId` |
| `offset` | BIGINT (Kinesis: STRING) | `offset` | `sequenceNumber` |
| `timestamp` | TIMESTAMP | `timestamp` | `approximateArrivalTimestamp` |
| `_rescued_data` | STRING (json only) | the value's text when it does not parse | |

The Kafka connector's rows are `key`, `value` (BINARY), `topic`, `partition`, `offset`,
`timestamp`, `timestampType` ("Connect to Apache Kafka", schema of the records,
https://docs.databricks.com/aws/en/connect/streaming/kafka.html); the Kinesis connector's are
`partitionKey`, `data` (BINARY), `stream`, `shardId`, `sequenceNumber`,
`approximateArrivalTimestamp` ("Connect to Amazon Kinesis", schema,
https://docs.databricks.com/aws/en/connect/streaming/kinesis.html; the fields of a Kinesis
record, AWS's API reference "Record": Data, PartitionKey, SequenceNumber,
ApproximateArrivalTimestamp).

Off Databricks there is no broker and no connector: the records are JSON lines landed under
the source's events folder, one object per record with `key`, `value` (the value's text, a JSON
object, or base64 for `value_format: bytes`), `topic`, `partition`, `offset`, `timestamp`, read
as a stream of files (each update adds the files landed since, from the checkpoint). Both paths
first make the connector's row shape (key, value as bytes, then the four positions), then
`bronze_rows` builds bronze from it: one code path for the value and the rescue.

Secrets: the connector options hold references (`{{secrets/SCOPE/KEY}}`, `${KEY}`) until the
query function runs on the cluster, where `dbutils.secrets.get` (as Databricks' "Use Azure
Event Hubs as a DLT data source" reads its policy key in pipeline code,
https://learn.microsoft.com/azure/databricks/delta-live-tables/event-hubs) or `spark.conf.get`
replaces them, so the value never reaches the metadata, the pipeline settings or the plan.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..metadata import on_databricks
from ..models.stream_sources import (
    CONF_REFERENCE,
    SECRET_REFERENCE,
    KinesisStream,
    block_of,
    connector_options,
)
from .readers import RESCUED_DATA_COLUMN, landing_root

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models.sources import EventSource

KAFKA_REPLAY_DDL = (
    "key STRING, value STRING, topic STRING, `partition` INT, `offset` BIGINT, "
    "`timestamp` TIMESTAMP"
)
"""The replayed records of a Kafka or Event Hubs source: the connector's columns, with the key
and value as text (the value's bytes are its UTF-8 text, or base64 for `bytes`)."""

KINESIS_REPLAY_DDL = (
    "key STRING, value STRING, topic STRING, `partition` STRING, `offset` STRING, "
    "`timestamp` TIMESTAMP"
)
"""Kinesis's shard id and sequence number are text."""

_CORRUPT_LINE = "_replayed_line"
"""A replayed line that is not JSON: its text becomes the record's value (nothing lost)."""

BRONZE_COLUMNS = ("key", "value", "topic", "partition", "offset", "timestamp")

KAFKA_FORMAT = "kafka"
"""The format name of Databricks' Kafka connector (Event Hubs goes through it too)."""
KINESIS_FORMAT = "kinesis"
"""The format name of Databricks' Kinesis connector."""


def read_stream_source(source: EventSource, spark: SparkSession) -> DataFrame:
    """The source's bronze rows: from the connector on Databricks, replayed files elsewhere
    (under the source's events folder, `<landing_root>/events/<producer>/<name>/`)."""
    if on_databricks():
        return bronze_rows(connector_rows(source, spark), source)
    landing = None if source.events_root else landing_root(spark)
    return bronze_rows(replayed_rows(source, spark, source.events_path(landing)), source)


def connector_rows(source: EventSource, spark: SparkSession) -> DataFrame:
    """The connector's records, renamed to the bronze positions (key and value as bytes)."""
    block = block_of(source)
    assert block is not None  # the model gives a stream source its block
    options = {key: resolved(value, spark) for key, value in connector_options(block).items()}
    if isinstance(block, KinesisStream):  # a stream only (the model refuses a batch read)
        records = spark.readStream.format(KINESIS_FORMAT).options(**options).load()
        return records.selectExpr(
            "partitionKey AS key",
            "data AS value",
            "stream AS topic",
            "shardId AS `partition`",
            "sequenceNumber AS `offset`",
            "approximateArrivalTimestamp AS `timestamp`",
        )
    # Read whole, Kafka starts at `earliest` and ends at `latest` (the connector's batch
    # defaults); as a stream, each update resumes from the checkpoint.
    reader = spark.readStream if source.read_as_stream else spark.read
    records = reader.format(KAFKA_FORMAT).options(**options).load()
    return records.select(*BRONZE_COLUMNS)


def replayed_rows(source: EventSource, spark: SparkSession, folder: str) -> DataFrame:
    """Landed records in the connector's shape: a stream of the JSON lines under `folder`."""
    if "://" not in folder:
        # An empty landing is an empty stream, not a missing path (nothing to infer here).
        Path(folder.removeprefix("file:")).mkdir(parents=True, exist_ok=True)
    ddl = KINESIS_REPLAY_DDL if source.kinesis is not None else KAFKA_REPLAY_DDL
    reader = spark.readStream if source.read_as_stream else spark.read
    lines = (
        reader.format("json")
        .schema(f"{ddl}, `{_CORRUPT_LINE}` STRING")
        .options(
            mode="PERMISSIVE",
            columnNameOfCorruptRecord=_CORRUPT_LINE,
            recursiveFileLookup="true",
        )
        .load(folder)
    )
    value = f"coalesce(value, `{_CORRUPT_LINE}`)"
    as_bytes = (
        f"unbase64({value})"
        if source.stream_value_format == "bytes"
        else (f"CAST({value} AS BINARY)")
    )
    return lines.selectExpr(
        "key",
        f"{as_bytes} AS value",
        "topic",
        "`partition`",
        "`offset`",
        "`timestamp`",
    )


def bronze_rows(records: DataFrame, source: EventSource) -> DataFrame:
    """Bronze from the connector's row shape: the key as text, the value parsed (json), as
    text (string) or as bytes, the positions as they are; one projection after the parse.

    A JSON value that does not parse by `schema_ddl` keeps its text in `_rescued_data` (the
    JSON reader's corrupt-record column, which `from_json` fills in PERMISSIVE mode), so no
    record is lost; the other fields of `value` are then null.
    """
    from pyspark.sql import functions as F

    key = F.col("key").cast("string").alias("key")
    positions = [F.col(name) for name in BRONZE_COLUMNS[2:]]
    value_format = source.stream_value_format
    if value_format != "json":
        value = F.col("value") if value_format == "bytes" else F.col("value").cast("string")
        return records.select(key, value.alias("value"), *positions)
    assert source.schema_ddl is not None  # the model requires it for json
    parsed = F.from_json(
        F.col("value").cast("string"),
        f"{source.schema_ddl}, `{RESCUED_DATA_COLUMN}` STRING",
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": RESCUED_DATA_COLUMN},
    )
    with_parsed = records.select(key, parsed.alias("_parsed"), *positions)
    return with_parsed.select(
        "key",
        F.col("_parsed").dropFields(RESCUED_DATA_COLUMN).alias("value"),
        *BRONZE_COLUMNS[2:],
        F.col(f"_parsed.{RESCUED_DATA_COLUMN}").alias(RESCUED_DATA_COLUMN),
    )


def resolved(value: str, spark: SparkSession) -> str:
    """An option's value, its secret references replaced by the secrets (on the cluster only):
    `{{secrets/SCOPE/KEY}}` by `dbutils.secrets.get`, `${KEY}` by the configuration's value.
    References may sit inside text (a JAAS configuration quotes its password)."""

    def secret(match: re.Match[str]) -> str:
        return secret_value(spark, match.group(1), match.group(2))

    def configured(match: re.Match[str]) -> str:
        return str(spark.conf.get(match.group(1)))

    value = _INNER_SECRET.sub(secret, value)
    return _INNER_CONF.sub(configured, value)


_INNER_SECRET = re.compile(SECRET_REFERENCE.pattern.strip("^$"))
_INNER_CONF = re.compile(CONF_REFERENCE.pattern.strip("^$"))


def secret_value(spark: SparkSession, scope: str, key: str) -> str:
    """A Databricks secret, read on the cluster with `dbutils.secrets.get`."""
    return str(dbutils(spark).secrets.get(scope=scope, key=key))


def dbutils(spark: SparkSession) -> Any:
    """Databricks' `dbutils` for the session: the notebook's own when it has one, else the one
    `pyspark.dbutils` (Databricks Runtime only) makes for a session."""
    try:
        from IPython import get_ipython  # type: ignore[import-not-found]

        shell = get_ipython()
        if shell is not None and "dbutils" in shell.user_ns:
            return shell.user_ns["dbutils"]
    except ImportError:
        pass
    from pyspark.dbutils import DBUtils  # type: ignore[import-not-found]  # Databricks only

    return DBUtils(spark)
