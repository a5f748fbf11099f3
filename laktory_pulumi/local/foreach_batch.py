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
from pathlib import Path
from urllib.parse import urlparse

from ..runtime.dlt_sdp import FOREACH_BATCH_SINKS
from .events import Event, emit

CHECKPOINTS = "_foreach_batch"
"""Folder of the pipeline's storage holding the foreach_batch flows' checkpoints."""


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
                running = (
                    query()
                    .writeStream.queryName(flow)
                    .foreachBatch(sink.handler)
                    .option("checkpointLocation", checkpoint)
                    .trigger(availableNow=True)
                    .start()
                )
                running.awaitTermination()
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
