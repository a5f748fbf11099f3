"""Event streams a bronze table reads: Apache Kafka, Azure Event Hubs (through its Kafka
endpoint) and Amazon Kinesis.

An event source with `type: STREAM_KAFKA` takes a `kafka:` or an `event_hubs:` block, one with
`type: STREAM_KINESIS` a `kinesis:` block. Each block becomes the reader options Databricks'
connectors take (`runtime/stream_readers.py`):

- Kafka: `spark.readStream.format("kafka")` with `kafka.bootstrap.servers`, one of
  `subscribe` / `subscribePattern` / `assign`, `startingOffsets`, and `kafka.`-prefixed
  consumer settings ("Connect to Apache Kafka",
  https://docs.databricks.com/aws/en/connect/streaming/kafka.html).
- Event Hubs: the same connector on `<namespace>.servicebus.windows.net:9093`, with
  `kafka.security.protocol` SASL_SSL, `kafka.sasl.mechanism` PLAIN and a JAAS configuration
  of Databricks' shaded `PlainLoginModule` whose user is `$ConnectionString` and password the
  namespace's connection string ("Use Azure Event Hubs as a DLT data source",
  https://learn.microsoft.com/azure/databricks/delta-live-tables/event-hubs; Azure's "Event
  Hubs for Apache Kafka" settings: bootstrap `<namespace>.servicebus.windows.net:9093`,
  SASL_SSL, PLAIN, username `$ConnectionString`).
- Kinesis: `spark.readStream.format("kinesis")` with `streamName`, `region`,
  `initialPosition` ("Connect to Amazon Kinesis",
  https://docs.databricks.com/aws/en/connect/streaming/kinesis.html; its option names are
  those of `read_kinesis`,
  https://docs.databricks.com/sql/language-manual/functions/read_kinesis.html).

Secrets (a SASL password, a connection string, AWS keys, any option whose name says it holds
one) are written only as references: `${secret.SCOPE/KEY}`, which the loader turns into
Databricks' `{{secrets/SCOPE/KEY}}` and the runtime reads with `dbutils.secrets.get` on the
cluster, or `${conf.KEY}`, a key of the pipeline's configuration read with `spark.conf.get`.
A literal value is refused at its line: the pipeline's metadata file holds a table's
definition as written, readable by every principal of the workspace folder.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .base import FieldError, Model

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .sources import EventSource

ValueFormat = Literal["json", "string", "bytes"]
"""How a record's value reaches bronze: parsed from JSON by `schema_ddl`, decoded as UTF-8
text, or kept as the record's bytes."""

OptionValue = str | int | float | bool

SECRET_REFERENCE = re.compile(r"^\{\{secrets/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)\}\}$")
"""What `${secret.SCOPE/KEY}` becomes in the loader (`loader/variables.py`)."""

CONF_REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_.-]+)\}$")
"""What `${conf.KEY}` becomes in the loader: Spark's `${KEY}`, a key of the configuration."""

SECRET_OPTION_WORDS = ("password", "secret", "jaas", "accesskey", "connectionstring")
"""An option whose name (lower case, without `.`, `_` and `-`) holds one of these carries a
secret: `kafka.sasl.jaas.config`, `kafka.ssl.keystore.password`, `awsSecretKey`..."""

STREAM_BLOCKS = ("kafka", "event_hubs", "kinesis")
"""The event source fields holding a stream's connection."""

SECRET_FIELDS = {
    "kafka": ("password", "username"),  # under `kafka.sasl`
    "event_hubs": ("connection_string",),
    "kinesis": ("aws_access_key", "aws_secret_key"),
}
"""Fields of the stream blocks that take a `${secret.SCOPE/KEY}` (beside `options` values)."""


def is_reference(value: object) -> bool:
    """Whether a value names a secret rather than holding it: `{{secrets/SCOPE/KEY}}` or a
    configuration key `${KEY}`."""
    return isinstance(value, str) and bool(
        SECRET_REFERENCE.match(value.strip()) or CONF_REFERENCE.match(value.strip())
    )


def holds_secret(option: str) -> bool:
    """Whether a reader option's name says its value is a secret."""
    flat = re.sub(r"[._-]", "", option.lower())
    return any(word in flat for word in SECRET_OPTION_WORDS)


def takes_secret_reference(path: tuple[str | int, ...]) -> bool:
    """Whether a YAML path is a stream source field that may hold `${secret.SCOPE/KEY}`:
    `kafka.sasl.password` (and `username`), `event_hubs.connection_string`, `kinesis`'s AWS
    keys, and the value of any block's `options`."""
    if len(path) < 3 or path[0] != "tables":
        return False
    if not any(part in ("event_source", "event_sources") for part in path):
        return False
    if path[-2] == "options" and path[-3] in STREAM_BLOCKS:
        return True
    if path[-2] == "sasl" and path[-3] == "kafka":
        return path[-1] in SECRET_FIELDS["kafka"]
    return path[-2] in ("event_hubs", "kinesis") and path[-1] in SECRET_FIELDS[str(path[-2])]


_LITERAL_SECRET = (
    "is a secret and is written in clear here; the pipeline's metadata file would hold it: "
    "write ${secret.SCOPE/KEY} (a Databricks secret, read on the cluster at run time) or "
    "${conf.KEY} (a key of the pipeline's configuration)"
)


def _reference_only(field: str, value: str | None) -> str | None:
    if value is not None and not is_reference(value):
        raise ValueError(f"{field} {_LITERAL_SECRET}")
    return value


class SaslLogin(Model):
    """A SASL user and password for the Kafka consumer (`kafka.sasl.jaas.config`)."""

    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN",
        description="Kafka's `sasl.mechanism`: PLAIN (Confluent Cloud API keys), or SCRAM.",
    )
    username: str = Field(
        description="The SASL user (e.g. an API key): text, or a `${secret.SCOPE/KEY}`.",
        min_length=1,
    )
    password: str = Field(
        description="The SASL password, only as a reference: `${secret.SCOPE/KEY}` or "
        "`${conf.KEY}`; a literal password is refused.",
        min_length=1,
    )

    @field_validator("password")
    @classmethod
    def _password_is_a_reference(cls, value: str) -> str:
        return _reference_only("password", value) or value


class KafkaStream(Model):
    """An Apache Kafka topic (or several), read by Databricks' Kafka connector."""

    bootstrap_servers: str = Field(
        description="Kafka's `kafka.bootstrap.servers`: `host:port`, comma-separated.",
        min_length=1,
    )
    topics: list[str] | None = Field(
        default=None,
        min_length=1,
        description="The topics read (Kafka's `subscribe`). Exactly one of `topics`, "
        "`topic_pattern` and `assign` is set.",
    )
    topic_pattern: str | None = Field(
        default=None,
        min_length=1,
        description="A Java regular expression of the topics read (`subscribePattern`).",
    )
    assign: str | None = Field(
        default=None,
        min_length=1,
        description='The partitions read, as JSON (`assign`), e.g. `{"orders": [0, 1]}`.',
    )
    starting_offsets: str | None = Field(
        default=None,
        min_length=1,
        description="Where the first update starts (`startingOffsets`): `earliest`, `latest` "
        "(the connector's default) or JSON offsets per partition. Later updates resume from "
        "the checkpoint.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = Field(
        default=None,
        description="Kafka's `security.protocol`; SASL_SSL by default when `sasl` is set.",
    )
    sasl: SaslLogin | None = Field(
        default=None,
        description="A SASL user and password, written as `kafka.sasl.jaas.config` with "
        "Databricks' shaded login module (`kafkashaded.org.apache.kafka...`).",
    )
    options: dict[str, OptionValue] = Field(
        default_factory=dict,
        description="Other options of the connector, as Databricks names them "
        "(`maxOffsetsPerTrigger`, `failOnDataLoss`, `kafka.`-prefixed consumer settings). A "
        "value whose option name says it is a secret (password, jaas, secret...) must "
        "be a `${secret.SCOPE/KEY}` or `${conf.KEY}`.",
    )

    @model_validator(mode="after")
    def _one_subscription(self) -> KafkaStream:
        """Spark's Kafka source takes exactly one of `assign`, `subscribe` and
        `subscribePattern` ("Structured Streaming + Kafka Integration Guide", "Only one of
        ... options can be specified", https://spark.apache.org/docs/latest/
        structured-streaming-kafka-integration.html), and Kafka's SASL logins need a SASL
        `security.protocol`."""
        chosen = [f for f in ("topics", "topic_pattern", "assign") if getattr(self, f)]
        if not chosen:
            raise ValueError(
                "kafka needs the topics it reads: topics, topic_pattern or assign (Kafka's "
                "subscribe, subscribePattern or assign)"
            )
        if len(chosen) > 1:
            raise FieldError(
                chosen[-1],
                f"set one of topics, topic_pattern or assign (found {', '.join(chosen)})",
            )
        if self.security_protocol in ("PLAINTEXT", "SSL") and self.sasl is not None:
            raise FieldError(
                "security_protocol",
                f"sasl needs a SASL security_protocol (SASL_SSL or SASL_PLAINTEXT), not "
                f"{self.security_protocol}",
            )
        return self


class EventHubsStream(Model):
    """An Azure Event Hub, read through its namespace's Kafka endpoint."""

    namespace: str = Field(
        description="The Event Hubs namespace: `my-namespace` (or its host name "
        "`my-namespace.servicebus.windows.net`); the connector reads "
        "`<namespace>.servicebus.windows.net:9093`.",
        pattern=r"^[A-Za-z][A-Za-z0-9-]{1,62}[A-Za-z0-9](\.servicebus\.windows\.net)?$",
    )
    name: str = Field(
        description="The event hub read: its Kafka topic (`subscribe`).", min_length=1
    )
    connection_string: str = Field(
        description="The namespace's (or event hub's) connection string, only as a reference: "
        "`${secret.SCOPE/KEY}` or `${conf.KEY}`; a literal connection string is refused.",
        min_length=1,
    )
    starting_offsets: str | None = Field(
        default=None,
        min_length=1,
        description="Where the first update starts (`startingOffsets`): `earliest`, `latest` "
        "(the default) or JSON offsets.",
    )
    options: dict[str, OptionValue] = Field(
        default_factory=dict,
        description="Other options of the Kafka connector (`maxOffsetsPerTrigger`, "
        "`kafka.request.timeout.ms`...); secret-named options take references only.",
    )

    @field_validator("connection_string")
    @classmethod
    def _connection_string_is_a_reference(cls, value: str) -> str:
        return _reference_only("connection_string", value) or value

    @property
    def bootstrap_servers(self) -> str:
        """The namespace's Kafka endpoint."""
        host = self.namespace.removesuffix(".servicebus.windows.net")
        return f"{host}.servicebus.windows.net:9093"


class KinesisStream(Model):
    """An Amazon Kinesis data stream, read by Databricks' Kinesis connector."""

    stream_name: str = Field(
        description="The stream read (`streamName`); several comma-separated.", min_length=1
    )
    region: str = Field(description="The stream's AWS region (`region`).", min_length=1)
    initial_position: str | None = Field(
        default=None,
        min_length=1,
        description="Where the first update starts (`initialPosition`): `latest` (the "
        "default), `trim_horizon` / `earliest`, or `at_timestamp` as JSON.",
    )
    role_arn: str | None = Field(
        default=None, description="An IAM role the connector assumes (`roleArn`)."
    )
    service_credential: str | None = Field(
        default=None,
        description="A Unity Catalog service credential (`serviceCredential`), the way "
        "Databricks recommends.",
    )
    aws_access_key: str | None = Field(
        default=None,
        description="An access key (`awsAccessKey`), only as `${secret.SCOPE/KEY}` or "
        "`${conf.KEY}`.",
    )
    aws_secret_key: str | None = Field(
        default=None,
        description="Its secret key (`awsSecretKey`), only as `${secret.SCOPE/KEY}` or "
        "`${conf.KEY}`.",
    )
    options: dict[str, OptionValue] = Field(
        default_factory=dict,
        description="Other options of the Kinesis connector (`maxRecordsPerFetch`...); "
        "secret-named options take references only.",
    )

    @field_validator("aws_access_key", "aws_secret_key")
    @classmethod
    def _keys_are_references(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _reference_only(info.field_name or "key", value)

    @model_validator(mode="after")
    def _key_pair(self) -> KinesisStream:
        if (self.aws_access_key is None) != (self.aws_secret_key is None):
            missing = "aws_secret_key" if self.aws_secret_key is None else "aws_access_key"
            raise ValueError(
                f"aws_access_key and aws_secret_key go together ({missing} is missing)"
            )
        return self


StreamBlock = KafkaStream | EventHubsStream | KinesisStream

_BLOCKS_OF_TYPE = {
    "STORAGE_EVENTS": (),
    "STREAM_KAFKA": ("kafka", "event_hubs"),
    "STREAM_KINESIS": ("kinesis",),
}
"""The blocks each readable event source type takes (STORAGE_DUMPS has no reader)."""

_FILE_READER_DEFAULTS = {"format": "JSON", "multiline": False, "header": True, "read_options": {}}
"""The file-reader fields of an event source, at their defaults. Compared with the defaults,
not with the fields set: the metadata file, read back, sets every field."""


def check_event_source(source: EventSource) -> None:
    """The type, blocks and value fields of an event source agree; a `FieldError` otherwise."""
    if source.type not in _BLOCKS_OF_TYPE:
        raise FieldError(
            "type",
            f"type {source.type} cannot be read: STORAGE_EVENTS (files landed in storage), "
            "STREAM_KAFKA and STREAM_KINESIS have readers; STORAGE_DUMPS had none in "
            "Laktory v0.0.22 either",
        )
    blocks = [name for name in STREAM_BLOCKS if getattr(source, name) is not None]
    allowed = _BLOCKS_OF_TYPE[source.type]
    stray = [name for name in blocks if name not in allowed]
    if stray:
        kind = "STREAM_KINESIS" if stray[0] == "kinesis" else "STREAM_KAFKA"
        raise FieldError(stray[0], f"{stray[0]} is for type {kind}")
    if not allowed:
        if source.value_format is not None:
            raise FieldError("value_format", "value_format is for STREAM_ types")
        return
    if len(blocks) > 1:
        raise FieldError(blocks[-1], "set one of kafka or event_hubs")
    if not blocks:
        raise FieldError(
            "type", f"type {source.type} reads a {' or '.join(allowed)} block; add one"
        )
    _check_stream(source)


def _check_stream(source: EventSource) -> None:
    """A stream: no file-reader fields, a schema for a JSON value only; Kinesis as a stream.

    Kafka (and Event Hubs) may be read whole (`read_as_stream: false`, a materialized view
    reading every retained record at each update): Databricks' Kafka connector takes batch
    reads ("Connect to Apache Kafka", https://docs.databricks.com/aws/en/connect/streaming/
    kafka.html). Kinesis is read as a stream only (`read_kinesis` is a "streaming
    table-valued function", https://docs.databricks.com/sql/language-manual/functions/
    read_kinesis.html).
    """
    if not source.read_as_stream and source.kinesis is not None:
        raise FieldError(
            "read_as_stream",
            "a Kinesis source is read as a stream (Databricks' Kinesis connector streams, its "
            "checkpoint keeps the sequence numbers); remove read_as_stream: false",
        )
    files = [n for n, value in _FILE_READER_DEFAULTS.items() if getattr(source, n) != value]
    if files:
        raise FieldError(
            files[0],
            f"{files[0]} is a file reader's; a stream's connector options go in its block's "
            "options",
        )
    value_format = source.stream_value_format
    if value_format == "json" and not source.schema_ddl:
        raise FieldError(
            "value_format" if "value_format" in source.model_fields_set else "schema_ddl",
            "value_format json parses each record's value by schema_ddl (a stream has no "
            "files to infer it from): declare schema_ddl, e.g. 'id INT, ts TIMESTAMP', or "
            "keep the value unparsed with value_format: string or bytes",
        )
    if value_format != "json" and source.schema_ddl:
        raise FieldError(
            "schema_ddl",
            f"schema_ddl parses a JSON value; with value_format {value_format} the value is "
            "not parsed: remove schema_ddl or set value_format: json",
        )


def connector_options(block: StreamBlock) -> dict[str, str]:
    """The connector's options from a block, secrets still as references (resolved by the
    runtime on the cluster); the block's `options` last, over none of these (a clash is
    refused by `stream_source_rules`)."""
    options: dict[str, OptionValue | None]
    if isinstance(block, KafkaStream):
        options = {
            "kafka.bootstrap.servers": block.bootstrap_servers,
            "subscribe": ",".join(block.topics) if block.topics else None,
            "subscribePattern": block.topic_pattern,
            "assign": block.assign,
            "startingOffsets": block.starting_offsets,
            "kafka.security.protocol": block.security_protocol
            or ("SASL_SSL" if block.sasl else None),
        }
        if block.sasl is not None:
            options["kafka.sasl.mechanism"] = block.sasl.mechanism
            options["kafka.sasl.jaas.config"] = jaas_config(
                block.sasl.mechanism, block.sasl.username, block.sasl.password
            )
    elif isinstance(block, EventHubsStream):
        options = {
            "kafka.bootstrap.servers": block.bootstrap_servers,
            "subscribe": block.name,
            "startingOffsets": block.starting_offsets,
            "kafka.security.protocol": "SASL_SSL",
            "kafka.sasl.mechanism": "PLAIN",
            "kafka.sasl.jaas.config": jaas_config(
                "PLAIN", "$ConnectionString", block.connection_string
            ),
        }
    else:
        options = {
            "streamName": block.stream_name,
            "region": block.region,
            "initialPosition": block.initial_position,
            "roleArn": block.role_arn,
            "serviceCredential": block.service_credential,
            "awsAccessKey": block.aws_access_key,
            "awsSecretKey": block.aws_secret_key,
        }
    options.update(block.options)
    return {key: _text(value) for key, value in options.items() if value is not None}


JAAS_MODULES = {
    "PLAIN": "kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "kafkashaded.org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "kafkashaded.org.apache.kafka.common.security.scram.ScramLoginModule",
}
"""Databricks ships the Kafka client shaded under `kafkashaded.`: the login module's class
name carries the prefix on Databricks ("Connect to Apache Kafka", the SASL examples)."""


def jaas_config(mechanism: str, username: str, password: str) -> str:
    """Kafka's `sasl.jaas.config` text for a user and password (each may be a reference the
    runtime replaces by its value)."""
    return f'{JAAS_MODULES[mechanism]} required username="{username}" password="{password}";'


def _text(value: OptionValue) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def block_of(source: object) -> StreamBlock | None:
    """The stream block of an event source, None for landed files."""
    for name in STREAM_BLOCKS:
        block = getattr(source, name, None)
        if block is not None:
            return block  # type: ignore[no-any-return]
    return None


def stream_source_rules(pipeline: Pipeline) -> list[tuple[tuple[str | int, ...], str]]:
    """Options of a stream block: a secret-named option holds a reference, and no option sets
    what the block's own fields set (two places for one setting)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, table in enumerate(pipeline.tables):
        for path, source in table.builder.located_event_sources():
            block = block_of(source)
            if block is None:
                continue
            name = next(n for n in STREAM_BLOCKS if getattr(source, n) is block)
            own = _own_options(block)
            for key, value in block.options.items():
                at = ("tables", index, *path, name, "options", key)
                if key.lower() in own:
                    problems.append((at, f"option {key} is set by {name}'s own fields"))
                elif holds_secret(key) and not is_reference(value):
                    problems.append((at, f"option {key} {_LITERAL_SECRET}"))
    return problems


def _own_options(block: StreamBlock) -> set[str]:
    """The options the block's fields always or may set (lower case)."""
    if isinstance(block, KinesisStream):
        fields = ("streamName", "region", "initialPosition", "roleArn", "serviceCredential")
        return {name.lower() for name in (*fields, "awsAccessKey", "awsSecretKey")}
    kafka = ("kafka.bootstrap.servers", "subscribe", "subscribePattern", "assign")
    security = ("startingOffsets", "kafka.security.protocol", "kafka.sasl.mechanism")
    return {name.lower() for name in (*kafka, *security, "kafka.sasl.jaas.config")}


__all__ = [
    "EventHubsStream",
    "KafkaStream",
    "KinesisStream",
    "SaslLogin",
    "ValueFormat",
    "block_of",
    "check_event_source",
    "connector_options",
    "holds_secret",
    "is_reference",
    "stream_source_rules",
    "takes_secret_reference",
]
