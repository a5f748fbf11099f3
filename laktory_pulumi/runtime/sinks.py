"""A pipeline's sinks (`models.sinks`): `create_sink` and the append flow feeding it.

Each sink is defined by the notebook defining its table, right after the table
(`tables.define_table`), as DLT documents it: `dlt.create_sink(name, format, options)`, then an
`@dlt.append_flow(target=<sink>)` returning the table read as a stream, with the sink's `where`
and `select` ("create_sink", https://docs.databricks.com/aws/en/dlt-ref/dlt-python-ref-sink).
A full refresh clears nothing in a sink: reprocessed rows are appended again (same page).

On Databricks, each `{{secrets/scope/key}}` of an option (what `${secret.SCOPE/KEY}` becomes
when the YAML is loaded, `loader.variables`) is read from the scope when the sink is defined,
with `dbutils.secrets.get`, the way Databricks' own Kafka sink example passes a credential: the
value is never in the metadata file, and Databricks redacts it in the pipeline's logs.

A `foreach_batch` sink is `dlt.foreach_batch_sink(name, handler)` instead of `create_sink`:
Databricks' `@dp.foreach_batch_sink(name=...)` around the project's function, imported from the
deployed modules' folder, fed by the same append flow ("foreach_batch_sink",
https://docs.databricks.com/gcp/en/ldp/developer/ldp-python-ref-foreach-batch-sink). Locally
SDP has none: the driver streams the flow into the handler after the update
(`local.foreach_batch`).

Locally (`SdpBackend`) the sink is SDP's own `create_sink` with a file format
(`Sink.written_locally_as`) and a path under the state folder (the configuration key
`SINK_ROOT_KEY`), written by a streaming query with its checkpoint in the pipeline's storage:
Spark's file sink commits each batch to its `_spark_metadata` log after its checkpoint's offset,
and a reader of the folder lists only committed files, so a batch cut by a kill is written again
by the next run and read once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..models.sinks import FOREACH_BATCH
from . import dlt
from .udfs import import_function

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models import Pipeline, Table
    from ..models.sinks import Sink

SINK_ROOT_KEY = "laktory_sink_root"
"""Pipeline configuration key of a local run: the folder holding each sink's files."""

_SECRET = re.compile(r"\{\{secrets/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)\}\}")


def sinks_of(table: Table) -> list[Sink]:
    """The sinks publishing `table`'s rows."""
    pipeline = table._pipeline.target  # type: ignore[attr-defined]
    if pipeline is None:
        return []
    return [sink for sink in getattr(pipeline, "sinks", []) if sink.table == table.name]


def define_sinks(table: Table, spark: SparkSession) -> list[str]:
    """Every sink of `table`, each with its append flow; returns their names."""
    pipeline = table._pipeline.target  # type: ignore[attr-defined]
    return [define_sink(sink, spark, pipeline) for sink in sinks_of(table)]


def define_sink(sink: Sink, spark: SparkSession, pipeline: Pipeline | None = None) -> str:
    """`create_sink` (or `foreach_batch_sink` with the handler of `pipeline`'s modules) and
    the append flow streaming the sink's table into it."""
    backend = dlt.backend_name()
    if sink.format == FOREACH_BATCH:
        if pipeline is None:
            raise ValueError(f"sink {sink.name}: a foreach_batch sink needs its pipeline")
        dlt.foreach_batch_sink(sink.name, batch_handler(sink, pipeline))
        if backend == "sdp":  # the driver resets the sink's checkpoint with its table's
            from .dlt_sdp import FOREACH_BATCH_SINKS

            FOREACH_BATCH_SINKS[sink.name].table = sink.table
        _feed(sink)
        return sink.name
    if backend == "sdp":
        file_format, options = local_sink(sink, spark)
    elif backend == "databricks":
        file_format, options = sink.format, resolved_options(sink.options, spark)
    else:  # debugging, or the deep check: nothing is written, no secret is read
        file_format, options = sink.format, dict(sink.options)
    dlt.create_sink(sink.name, file_format, options)
    _feed(sink)
    return sink.name


def _feed(sink: Sink) -> None:
    """The append flow streaming the sink's table into it."""

    @dlt.append_flow(target=sink.name, name=sink.flow_name)
    def publish() -> DataFrame:
        return published(sink, dlt.read_stream(sink.table))


def batch_handler(sink: Sink, pipeline: Pipeline) -> Callable[[DataFrame, int], None]:
    """A foreach_batch sink's function, imported from where the deploy put its module."""
    if sink.function is None:  # the model refuses a foreach_batch sink without one
        raise ValueError(f"sink {sink.name}: a foreach_batch sink names no function")
    return import_function(sink.function, pipeline)


def published(sink: Sink, frame: DataFrame) -> DataFrame:
    """The rows and columns a sink publishes of its table's stream."""
    if sink.where:
        frame = frame.where(sink.where)
    selected = sink.selected
    return frame.selectExpr(*selected) if selected else frame


def local_sink(sink: Sink, spark: SparkSession) -> tuple[str, dict[str, str]]:
    """The file format and options of a sink's local stand-in, `<sink root>/<name>`."""
    root = spark.conf.get(SINK_ROOT_KEY, None)
    if not root:
        raise ValueError(
            f"sink {sink.name}: no local sink folder (configuration key {SINK_ROOT_KEY})"
        )
    options = {"path": f"{root.rstrip('/')}/{sink.name}"}
    if sink.written_locally_as == "csv":
        options["header"] = "true"
    return sink.written_locally_as, options


def resolved_options(options: dict[str, str], spark: SparkSession) -> dict[str, str]:
    """Options with each secret reference read from its scope (on Databricks)."""
    if not any(_SECRET.search(value) for value in options.values()):
        return dict(options)
    secrets = _secret_reader(spark)
    return {
        key: _SECRET.sub(lambda match: secrets.get(match.group(1), match.group(2)), value)
        for key, value in options.items()
    }


def _secret_reader(spark: SparkSession) -> Any:
    """`dbutils.secrets` of a Databricks cluster."""
    from pyspark.dbutils import DBUtils  # type: ignore[import-not-found]  # Databricks only

    return DBUtils(spark).secrets


__all__ = [
    "SINK_ROOT_KEY",
    "batch_handler",
    "define_sink",
    "define_sinks",
    "local_sink",
    "published",
    "resolved_options",
    "sinks_of",
]
