"""An Event Hubs source on Databricks: the table defined through `databricks-dlt` (PyPI,
Databricks' own stub of the `dlt` module, every call bound to its signature), the secret a
reference (`{{secrets/kv/eh-conn}}`) in the metadata and in every definition, read with
`dbutils.secrets.get` only when DLT runs the query function on the cluster.

What cannot exist here is stood in for, and nothing else: Databricks' `dbutils` (a fake
`pyspark.dbutils` module, as the Databricks Runtime ships it) and the Kafka connector (no jar:
a Python data source registered on the real SparkSession, which emits one record whose value is
the JSON of the options it was given). Spark runs the query function's stream for real, so the
bronze columns of the Databricks path are checked too. The connector's format name is the one
knob turned (`stream_readers.KAFKA_FORMAT`): Spark keeps `kafka` for its own connector.

Databricks' Event Hubs settings: "Use Azure Event Hubs as a DLT data source"
(https://learn.microsoft.com/azure/databricks/delta-live-tables/event-hubs): bootstrap
`<namespace>.servicebus.windows.net:9093`, `kafka.security.protocol` SASL_SSL,
`kafka.sasl.mechanism` PLAIN, and a JAAS configuration of the shaded
`kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule` with the user
`$ConnectionString` and the connection string as password.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from laktory_pulumi.loader import load_pipeline_file
from laktory_pulumi.metadata import metadata_bytes
from laktory_pulumi.runtime import dlt as shim
from laktory_pulumi.runtime import stream_readers

databricks_dlt = pytest.importorskip("dlt", reason="databricks-dlt is in the dev extra")

pytestmark = pytest.mark.spark

SECRET = "Endpoint=sb://plant-ns.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=s3cr3t="
FAKE_FORMAT = "laktory_fake_kafka"

PIPELINE = """\
name: pl-telemetry
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
tables:
  - name: brz_telemetry
    builder:
      layer: BRONZE
      event_source:
        name: telemetry
        producer: {name: plant}
        type: STREAM_KAFKA
        event_hubs:
          namespace: plant-ns
          name: telemetry
          connection_string: ${secret.kv/eh-conn}
          starting_offsets: earliest
          options: {maxOffsetsPerTrigger: 1000, failOnDataLoss: false}
        value_format: string
"""


class Recording:
    """The stub module, every call bound to the stub's signature and recorded; the query
    functions its `table` decorators receive are kept by dataset name (the stub never runs
    them; DLT does, on the cluster)."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.queries: dict[str, Callable[[], DataFrame]] = {}

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._module, name)
        if not callable(real):
            return real

        def checked(*args: Any, **kwargs: Any) -> Any:
            bound = dict(inspect.signature(real).bind(*args, **kwargs).arguments)
            self.calls.append((name, bound))
            result = real(*args, **kwargs)
            if name != "table" or bound.get("query_function") is not None:
                return result

            def decorator(function: Callable[[], DataFrame]) -> Any:
                self.queries[bound.get("name") or function.__name__] = function
                return result(function)

            return decorator

        return checked


class FakeSecrets:
    """`dbutils.secrets` of a workspace holding one secret."""

    def __init__(self) -> None:
        self.read: list[tuple[str, str]] = []

    def get(self, scope: str, key: str) -> str:
        self.read.append((scope, key))
        if (scope, key) != ("kv", "eh-conn"):
            raise KeyError(f"no secret {scope}/{key}")
        return SECRET


@pytest.fixture
def on_databricks(monkeypatch: pytest.MonkeyPatch, spark: SparkSession) -> Iterator[Any]:
    """The Databricks runtime as the query function sees it: `DATABRICKS_RUNTIME_VERSION`,
    `dlt` = the stub, `pyspark.dbutils`, and a Kafka connector."""
    secrets = FakeSecrets()
    module = types.ModuleType("pyspark.dbutils")
    module.DBUtils = lambda session: types.SimpleNamespace(secrets=secrets)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyspark.dbutils", module)
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    monkeypatch.setenv(shim.BACKEND_ENV, "databricks")
    monkeypatch.setattr(stream_readers, "KAFKA_FORMAT", FAKE_FORMAT)
    _register_fake_kafka(spark)
    shim.use_backend(None)
    assert shim.backend() is databricks_dlt
    databricks_dlt.enable_local_execution()  # the stub raises otherwise
    recording = Recording(databricks_dlt)
    shim.install_backend(recording)
    try:
        yield recording, secrets
    finally:
        shim.use_backend(None)


def _register_fake_kafka(spark: SparkSession) -> None:
    from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader

    class OptionsReader(SimpleDataSourceStreamReader):
        def __init__(self, options: dict[str, str]) -> None:
            self.options = dict(options)

        def initialOffset(self) -> dict[str, int]:
            return {"offset": 0}

        def read(self, start: dict[str, int]) -> tuple[Iterator[tuple[Any, ...]], dict[str, int]]:
            if start["offset"] >= 1:
                return iter([]), start
            import datetime

            value = json.dumps(self.options, sort_keys=True).encode()
            at = datetime.datetime(2024, 5, 1, 10, 0, 0)
            return iter([(b"device-7", value, "telemetry", 3, 42, at, 0)]), {"offset": 1}

        def readBetweenOffsets(
            self, start: dict[str, int], end: dict[str, int]
        ) -> Iterator[tuple[Any, ...]]:
            return self.read(start)[0]

    class FakeKafka(DataSource):
        """The Kafka connector's schema ("Connect to Apache Kafka", schema of the records)."""

        @classmethod
        def name(cls) -> str:
            return FAKE_FORMAT

        def schema(self) -> str:
            return (
                "key BINARY, value BINARY, topic STRING, `partition` INT, `offset` BIGINT, "
                "`timestamp` TIMESTAMP, timestampType INT"
            )

        def simpleStreamReader(self, schema: Any) -> OptionsReader:
            return OptionsReader(self.options)

    spark.dataSource.register(FakeKafka)


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_event_hubs_options_reach_databricks_with_the_secret_only_as_a_reference(
    on_databricks: tuple[Recording, FakeSecrets], spark: SparkSession, tmp_path: Path
) -> None:
    from laktory_pulumi.runtime.tables import define_table

    recording, secrets = on_databricks
    file = tmp_path / "pl-telemetry.yaml"
    file.write_text(PIPELINE)
    pipeline = load_pipeline_file(file, {})
    source = pipeline.tables[0].builder.event_source
    assert source is not None and source.event_hubs is not None
    assert source.event_hubs.connection_string == "{{secrets/kv/eh-conn}}"
    deployed = metadata_bytes(pipeline)
    assert b"{{secrets/kv/eh-conn}}" in deployed and b"s3cr3t" not in deployed

    define_table(pipeline.tables[0], spark)
    assert [name for name, _ in recording.calls] == ["table"]
    assert "s3cr3t" not in repr(recording.calls)
    assert secrets.read == []  # nothing is read until DLT runs the query function

    frame = recording.queries["brz_telemetry"]()
    assert secrets.read == [("kv", "eh-conn")]
    query = (
        frame.writeStream.format("memory")
        .queryName("brz_telemetry_databricks")
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    (row,) = spark.table("brz_telemetry_databricks").collect()
    assert frame.columns == [
        "key",
        "value",
        "topic",
        "partition",
        "offset",
        "timestamp",
        "_bronze_at",
    ]
    assert (row.key, row.topic, row.partition, row.offset) == ("device-7", "telemetry", 3, 42)
    options = {key.lower(): value for key, value in json.loads(row.value).items()}
    assert options == {
        "kafka.bootstrap.servers": "plant-ns.servicebus.windows.net:9093",
        "subscribe": "telemetry",
        "startingoffsets": "earliest",
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "PLAIN",
        "kafka.sasl.jaas.config": "kafkashaded.org.apache.kafka.common.security.plain."
        f'PlainLoginModule required username="$ConnectionString" password="{SECRET}";',
        "maxoffsetspertrigger": "1000",
        "failondataloss": "false",
    }


def test_a_configuration_reference_is_read_from_the_pipelines_configuration(
    on_databricks: tuple[Recording, FakeSecrets], spark: SparkSession
) -> None:
    """`${conf.KEY}` (written `${KEY}` in the metadata) is read with `spark.conf.get` on the
    cluster, where Databricks has put the configuration (and resolved its secrets)."""
    _, secrets = on_databricks
    spark.conf.set("eh_connection", "from-the-configuration")
    try:
        text = 'M required username="$ConnectionString" password="${eh_connection}";'
        assert stream_readers.resolved(text, spark) == (
            'M required username="$ConnectionString" password="from-the-configuration";'
        )
    finally:
        spark.conf.unset("eh_connection")
    assert stream_readers.resolved("{{secrets/kv/eh-conn}}", spark) == SECRET
    assert secrets.read == [("kv", "eh-conn")]


def test_kinesis_records_replay_locally_with_their_bytes(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off Databricks a Kinesis source replays its landed records: shard id and sequence
    number as text, a `bytes` value given as base64 kept as the bytes."""
    import base64

    from laktory_pulumi.models.sources import EventSource

    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.setenv("LAKTORY_LANDING_ROOT", str(tmp_path))
    source = EventSource.model_validate(
        {
            "name": "clicks",
            "type": "STREAM_KINESIS",
            "kinesis": {"stream_name": "clicks", "region": "eu-west-1", "role_arn": "arn:r"},
            "value_format": "bytes",
        }
    )
    folder = tmp_path / "events" / "clicks"
    folder.mkdir(parents=True)
    record = {
        "key": "user-9",
        "value": base64.b64encode(b"\x00\xffraw").decode(),
        "topic": "clicks",
        "partition": "shardId-000000000001",
        "offset": "49590338271490256608559692538361571095921575989136588898",
        "timestamp": "2024-05-01T10:00:00Z",
    }
    (folder / "r.json").write_text(json.dumps(record) + "\nnot a record\n")
    frame = stream_readers.read_stream_source(source, spark)
    query = (
        frame.writeStream.format("memory")
        .queryName("kinesis_replayed")
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    rows = sorted(spark.table("kinesis_replayed").collect(), key=lambda row: row.key or "")
    assert frame.columns == ["key", "value", "topic", "partition", "offset", "timestamp"]
    bad, good = rows
    assert (good.key, bytes(good.value), good.partition) == (
        "user-9",
        b"\x00\xffraw",
        "shardId-000000000001",
    )
    assert good.offset == record["offset"]
    # A line that is not a record is kept as a record of its own text, nothing dropped.
    assert bad.key is None and bad.value is not None


def _register_fake_kinesis(spark: SparkSession) -> None:
    from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader

    class RecordsReader(SimpleDataSourceStreamReader):
        def __init__(self, options: dict[str, str]) -> None:
            self.options = dict(options)

        def initialOffset(self) -> dict[str, int]:
            return {"offset": 0}

        def read(self, start: dict[str, int]) -> tuple[Iterator[tuple[Any, ...]], dict[str, int]]:
            if start["offset"] >= 1:
                return iter([]), start
            import datetime

            data = json.dumps({"page": "/home", "options": self.options}).encode()
            at = datetime.datetime(2024, 5, 1, 10, 0, 0)
            record = ("user-9", data, "clicks", "shardId-000000000001", "4959", at)
            return iter([record]), {"offset": 1}

        def readBetweenOffsets(
            self, start: dict[str, int], end: dict[str, int]
        ) -> Iterator[tuple[Any, ...]]:
            return self.read(start)[0]

    class FakeKinesis(DataSource):
        """The Kinesis connector's schema ("Connect to Amazon Kinesis", schema)."""

        @classmethod
        def name(cls) -> str:
            return "laktory_fake_kinesis"

        def schema(self) -> str:
            return (
                "partitionKey STRING, data BINARY, stream STRING, shardId STRING, "
                "sequenceNumber STRING, approximateArrivalTimestamp TIMESTAMP"
            )

        def simpleStreamReader(self, schema: Any) -> RecordsReader:
            return RecordsReader(self.options)

    spark.dataSource.register(FakeKinesis)


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_kinesis_records_become_the_same_bronze_columns_on_databricks(
    on_databricks: tuple[Recording, FakeSecrets],
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from laktory_pulumi.runtime.tables import define_table

    recording, secrets = on_databricks
    monkeypatch.setattr(stream_readers, "KINESIS_FORMAT", "laktory_fake_kinesis")
    _register_fake_kinesis(spark)
    file = tmp_path / "pl-clicks.yaml"
    file.write_text(
        PIPELINE.replace("pl-telemetry", "pl-clicks").split("tables:")[0]
        + """tables:
  - name: brz_clicks
    builder:
      layer: BRONZE
      event_source:
        name: clicks
        type: STREAM_KINESIS
        kinesis:
          stream_name: clicks
          region: eu-west-1
          initial_position: trim_horizon
          aws_access_key: ${secret.kv/eh-conn}
          aws_secret_key: ${secret.kv/eh-conn}
        schema_ddl: "page STRING, options MAP<STRING, STRING>"
"""
    )
    pipeline = load_pipeline_file(file, {})
    define_table(pipeline.tables[0], spark)
    frame = recording.queries["brz_clicks"]()
    query = (
        frame.writeStream.format("memory")
        .queryName("brz_clicks_databricks")
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    (row,) = spark.table("brz_clicks_databricks").collect()
    assert frame.columns[:7] == [
        "key",
        "value",
        "topic",
        "partition",
        "offset",
        "timestamp",
        "_rescued_data",
    ]
    assert (row.key, row.topic, row.partition, row.offset) == (
        "user-9",
        "clicks",
        "shardId-000000000001",
        "4959",
    )
    assert row.value.page == "/home" and row._rescued_data is None
    options = {key.lower(): value for key, value in row.value.options.items()}
    assert options == {
        "streamname": "clicks",
        "region": "eu-west-1",
        "initialposition": "trim_horizon",
        "awsaccesskey": SECRET,
        "awssecretkey": SECRET,
    }
    assert secrets.read == [("kv", "eh-conn"), ("kv", "eh-conn")]
