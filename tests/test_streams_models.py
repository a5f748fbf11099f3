"""Stream sources as YAML: the connector options each block becomes, secrets only as references,
and the combinations refused at their line (more in tests/data/invalid/stream_*.yaml).

Option names are Databricks': Kafka ("Connect to Apache Kafka",
https://docs.databricks.com/aws/en/connect/streaming/kafka.html), Event Hubs through its Kafka
endpoint (https://learn.microsoft.com/azure/databricks/delta-live-tables/event-hubs), Kinesis
(`streamName`, `region`, `initialPosition`, `roleArn`, `awsAccessKey`, `awsSecretKey`, `serviceCredential`:
https://docs.databricks.com/sql/language-manual/functions/read_kinesis.html).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from laktory_pulumi.analysis.landing import inferred_sources
from laktory_pulumi.graph.model import build_graph
from laktory_pulumi.loader import LoadError, load_pipeline_file
from laktory_pulumi.models.stream_sources import connector_options, holds_secret

HEADER = """\
name: pl-streams
configuration:
  eh_connection: ${secret.kv/eh-conn}
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
tables:
  - name: brz_events
    builder:
      layer: BRONZE
      event_source:
        name: events
"""


def _load(tmp_path: Path, source: str) -> object:
    file = tmp_path / "pl-streams.yaml"
    file.write_text(HEADER + source)
    pipeline = load_pipeline_file(file, {})
    return pipeline.tables[0].builder.event_source


def _error(tmp_path: Path, source: str) -> str:
    with pytest.raises(LoadError) as caught:
        _load(tmp_path, source)
    (error,) = caught.value.errors
    return str(error)


def test_kafka_with_sasl_becomes_the_connectors_options(tmp_path: Path) -> None:
    source = _load(
        tmp_path,
        """\
        type: stream_kafka
        kafka:
          bootstrap_servers: pkc-1.westeurope.azure.confluent.cloud:9092
          topic_pattern: "orders-.*"
          starting_offsets: earliest
          sasl: {username: "${secret.kv/api-key}", password: "${secret.kv/api-secret}"}
          options: {maxOffsetsPerTrigger: 500, kafka.request.timeout.ms: 60000}
        value_format: bytes
""",
    )
    assert connector_options(source.kafka) == {  # type: ignore[attr-defined]
        "kafka.bootstrap.servers": "pkc-1.westeurope.azure.confluent.cloud:9092",
        "subscribePattern": "orders-.*",
        "startingOffsets": "earliest",
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "PLAIN",
        "kafka.sasl.jaas.config": "kafkashaded.org.apache.kafka.common.security.plain."
        'PlainLoginModule required username="{{secrets/kv/api-key}}" '
        'password="{{secrets/kv/api-secret}}";',
        "maxOffsetsPerTrigger": "500",
        "kafka.request.timeout.ms": "60000",
    }


def test_kinesis_becomes_the_connectors_options(tmp_path: Path) -> None:
    source = _load(
        tmp_path,
        """\
        type: STREAM_KINESIS
        kinesis:
          stream_name: clicks
          region: eu-west-1
          initial_position: trim_horizon
          aws_access_key: ${secret.aws/access-key}
          aws_secret_key: ${secret.aws/secret-key}
        schema_ddl: "page STRING, at TIMESTAMP"
""",
    )
    assert connector_options(source.kinesis) == {  # type: ignore[attr-defined]
        "streamName": "clicks",
        "region": "eu-west-1",
        "initialPosition": "trim_horizon",
        "awsAccessKey": "{{secrets/aws/access-key}}",
        "awsSecretKey": "{{secrets/aws/secret-key}}",
    }


def test_a_configuration_key_is_a_reference_too(tmp_path: Path) -> None:
    """`${conf.KEY}` names a key of the pipeline's configuration, which may itself hold a
    `${secret...}` Databricks resolves; the runtime reads it with `spark.conf.get`."""
    source = _load(
        tmp_path,
        """\
        type: STREAM_KAFKA
        event_hubs:
          namespace: plant-ns.servicebus.windows.net
          name: telemetry
          connection_string: ${conf.eh_connection}
        value_format: string
""",
    )
    hubs = source.event_hubs  # type: ignore[attr-defined]
    # No schema to infer: `validate` notes no empty-landing failure (analysis/landing.py).
    pipeline = load_pipeline_file(tmp_path / "pl-streams.yaml", {})
    assert inferred_sources(pipeline) == []
    # The graph names the stream's kind.
    nodes = build_graph(pipeline).nodes
    assert [node.lines for node in nodes if node.kind == "source"] == [("kafka: events",)]
    assert hubs.connection_string == "${eh_connection}"
    assert connector_options(hubs)["kafka.bootstrap.servers"] == (
        "plant-ns.servicebus.windows.net:9093"
    )


def test_an_environment_variable_is_no_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`${env.X}` substitutes the value itself: it would be written in clear in the metadata."""
    monkeypatch.setenv("EH_CONNECTION", "Endpoint=sb://x/;SharedAccessKey=s3cr3t")
    error = _error(
        tmp_path,
        """\
        type: STREAM_KAFKA
        event_hubs: {namespace: plant-ns, name: telemetry, connection_string: "${env.EH_CONNECTION}"}
        value_format: string
""",
    )
    assert "s3cr3t" not in error
    assert "tables[0].builder.event_source.event_hubs.connection_string" in error


def test_a_secret_reference_stays_out_of_other_table_fields(tmp_path: Path) -> None:
    error = _error(
        tmp_path,
        """\
        type: STREAM_KAFKA
        kafka: {bootstrap_servers: "${secret.kv/brokers}", topics: [orders]}
        value_format: string
""",
    )
    assert "kafka.bootstrap_servers: ${secret.SCOPE/KEY} goes only in configuration" in error


def test_two_blocks_and_an_option_the_block_sets_are_refused(tmp_path: Path) -> None:
    error = _error(
        tmp_path,
        """\
        type: STREAM_KAFKA
        kafka: {bootstrap_servers: "b:9092", topics: [a], options: {subscribe: b}}
        value_format: string
""",
    )
    assert "kafka.options.subscribe: option subscribe is set by kafka's own fields" in error
    error = _error(
        tmp_path,
        """\
        type: STREAM_KAFKA
        kafka: {bootstrap_servers: "b:9092", topics: [a]}
        event_hubs: {namespace: ns-1, name: a, connection_string: "${secret.kv/c}"}
        value_format: string
""",
    )
    assert "set one of kafka or event_hubs" in error


@pytest.mark.parametrize(
    ("option", "secret"),
    [
        ("kafka.sasl.jaas.config", True),
        ("kafka.ssl.keystore.password", True),
        ("awsSecretKey", True),
        ("kafka.sasl.oauthbearer.token.endpoint.url", False),  # a URL, no secret
        ("maxOffsetsPerTrigger", False),
        ("kafka.ssl.truststore.location", False),
    ],
)
def test_options_named_as_secrets_are_secret(option: str, secret: bool) -> None:
    assert holds_secret(option) is secret


def test_a_table_test_cannot_give_kinesis_records(tmp_path: Path) -> None:
    """A table test reads its inputs whole; Kinesis is read as a stream only."""
    error = _error(
        tmp_path,
        """\
        type: STREAM_KINESIS
        kinesis: {stream_name: clicks, region: eu-west-1}
        value_format: string
tests:
  - name: clicks
    table: brz_events
    given:
      - event_source: events
        rows: [{key: a, value: b}]
    expect: {row_count: 1}
""",
    )
    assert "tests[0].given[0].event_source: event rows are landed as JSON" in error
    assert "a Kinesis stream" in error
