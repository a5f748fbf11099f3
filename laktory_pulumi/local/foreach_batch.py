"""`foreach_batch` sinks in a local run: their flows streamed into their handlers by the driver.

pyspark 4.3's Spark Declarative Pipelines has no `foreach_batch_sink` (Databricks' runtime
does: "foreach_batch_sink", https://docs.databricks.com/gcp/en/ldp/developer/
ldp-python-ref-foreach-batch-sink). So the SDP backend only records each such sink and the
query functions of its append flows (`runtime.dlt_sdp.FOREACH_BATCH_SINKS`), and once the
update has completed the driver runs each flow as Structured Streaming runs a foreachBatch
query: the flow's stream (the sink's table, its `where` and `select`), `foreachBatch(handler)`,
`trigger(availableNow=True)`, on the flow's own checkpoint,
`<storage>/_foreach_batch/<sink>/<flow>`. Each run hands the handler the rows appended to the
table since the last one; a run with nothing new calls it with nothing.

Exactly once holds only with an idempotent handler: Spark commits a batch to the checkpoint
after the handler returns, so a batch cut by a kill is handed over again by the next run, with
the same `batch_id` and the same rows. Structured Streaming gives foreachBatch "only
at-least-once write guarantees", and the `batch_id` is the way to deduplicate ("Use foreachBatch
to write to arbitrary data sinks", https://learn.microsoft.com/azure/databricks/
structured-streaming/foreach): write what belongs to a batch id, overwriting. A full refresh of
the sink's table starts the flows again from batch 0, as on Databricks, where "checkpoints reset
automatically when you perform a full refresh" and the handler is "responsible for managing the
downstream data reset" (https://docs.azure.cn/en-us/databricks/ldp/for-each-batch).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ..runtime.dlt_sdp import FOREACH_BATCH_SINKS
from .events import Event, emit

if TYPE_CHECKING:
    from pyspark.sql.streaming import StreamingQuery

CHECKPOINTS = "_foreach_batch"
"""Folder of the pipeline's storage holding the foreach_batch flows' checkpoints."""


WORKER_START_ATTEMPTS = 3
"""How many times a flow's query is started when its Python worker does not connect back.

The server starts one Python worker per foreachBatch query and gives it 10 s, a constant of
Spark's `PythonWorkerFactory`, to import pyspark's Spark Connect client and connect back. On a
loaded machine the imports alone can take longer (seen with a load average of 14 on 2 cores),
and the query then fails before any batch ran, so starting it again loses and repeats nothing."""

WORKER_DID_NOT_START = "Python worker failed to connect back"
"""The start of Spark's error for that case (`PythonWorkerFactory.createSimpleWorker`)."""


def start_query(
    start: Callable[[], StreamingQuery], flow: str, attempts: int = WORKER_START_ATTEMPTS
) -> StreamingQuery:
    """`start()`, again while its Python worker did not connect back, at most `attempts` times.

    Any other error, or the last attempt's, is raised as it is.
    """
    for attempt in range(1, attempts):
        try:
            return start()
        except Exception as error:
            if WORKER_DID_NOT_START not in str(error):
                raise
            print(
                f"foreach_batch flow {flow}: its Python worker did not connect back within "
                f"Spark's 10 s (a loaded machine); starting it again ({attempt + 1}/{attempts})",
                flush=True,
            )
    return start()


def checkpoint_of(storage: str, sink: str, flow: str) -> str:
    """Where a foreach_batch flow keeps its checkpoint."""
    return f"{storage.rstrip('/')}/{CHECKPOINTS}/{sink}/{flow}"


def flow_sinks() -> dict[str, str]:
    """Each foreach_batch flow's sink: the name its micro-batches' progress is shown under."""
    return {flow: sink.name for sink in FOREACH_BATCH_SINKS.values() for flow, _ in sink.flows}


def publish_foreach_batch_sinks(
    storage: str, refreshed: set[str], update: int
) -> tuple[str, str] | None:
    """Stream every foreach_batch sink's flows into its handler, each until it has caught up.

    A sink whose table is in `refreshed` (lower case: cleared by a full refresh) starts from
    batch 0.
    Returns (sink, error) of the first handler that failed, or None.
    """
    for sink in FOREACH_BATCH_SINKS.values():
        emit(Event("flow", update=update, table=sink.name, state="RUNNING"))
        for flow, query in sink.flows:
            checkpoint = checkpoint_of(storage, sink.name, flow)
            if sink.table is not None and sink.table.lower() in refreshed:
                _remove_local(checkpoint)
            try:
                writer = (
                    query()
                    .writeStream.queryName(flow)
                    .foreachBatch(sink.handler)
                    .option("checkpointLocation", checkpoint)
                    .trigger(availableNow=True)
                )
                start_query(writer.start, flow).awaitTermination()
            except Exception as error:  # the handler's own failure, as Spark reports it
                text = (str(error).strip() or type(error).__name__).splitlines()[0]
                emit(Event("flow", update=update, table=sink.name, state="FAILED"))
                return sink.name, f"foreach_batch handler failed: {text}"
        emit(Event("flow", update=update, table=sink.name, state="COMPLETED"))
    return None


def _remove_local(location: str) -> None:
    """Delete a checkpoint of a local storage folder (a remote one is the server's)."""
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        shutil.rmtree(Path(parsed.path), ignore_errors=True)
