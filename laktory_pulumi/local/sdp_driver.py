"""The Python side of a local run: a Spark Connect client of the engine's server.

`laktory-pulumi run` starts this file with the venv's Python and `--remote sc://HOST:PORT`
(the warm local engine of `engine.py`, or the user's `--remote` server), as
`spark-pipelines run --remote` runs pyspark's `pipelines/cli.py`, and it does what that CLI
does, with pyspark's own functions: load the spec, open the session with the spec's
configuration, create the dataflow graph, import the libraries, start the run. It adds what
the CLI cannot give:

- structured events (flow states, per-batch progress with observed metrics) for the runner;
- each table's row counts after the update, counted in the same JVM (a second JVM would cost
  seconds per run);
- continuous pipelines: further updates in the same session whenever the landing folder changes,
  until the runner asks it to stop;
- repair of what a kill can leave between two metastore steps (a table folder without a table).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

from pyspark.pipelines.cli import PipelineSpec, load_pipeline_spec, register_definitions
from pyspark.pipelines.flow import AutoCdcFlow, Flow
from pyspark.pipelines.output import MaterializedView, Output, StreamingTable
from pyspark.pipelines.spark_connect_graph_element_registry import (
    SparkConnectGraphElementRegistry,
)
from pyspark.pipelines.spark_connect_pipeline import create_dataflow_graph, start_run
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQueryListener

from laktory_pulumi.local import notebook_globals
from laktory_pulumi.local.connection import bound_client_retries
from laktory_pulumi.local.events import Event, emit, table_name
from laktory_pulumi.local.foreach_batch import flow_sinks, publish_foreach_batch_sinks
from laktory_pulumi.local.secret_configuration import with_secret_configuration
from laktory_pulumi.local.table_counts import (
    COUNTS_FILE,
    CountCache,
    TableCount,
    folder_fingerprint,
)
from laktory_pulumi.models.table_settings import RESET_ALLOWED
from laktory_pulumi.runtime import dlt_sdp
from laktory_pulumi.runtime.readers import RESCUED_DATA_COLUMN

FLOW_MESSAGE_STATES = (
    "QUEUED",
    "PLANNING",
    "STARTING",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "EXCLUDED",
    "SKIPPED",
    "STOPPED",
    "IDLE",
)


class RecordingRegistry(SparkConnectGraphElementRegistry):
    """The CLI's registry, remembering which datasets and flows the libraries defined."""

    def __init__(self, spark: SparkSession, dataflow_graph_id: str) -> None:
        super().__init__(spark, dataflow_graph_id)
        self.outputs: dict[str, Output] = {}
        self.flow_targets: dict[str, str] = {}

    def register_output(self, output: Output) -> None:
        super().register_output(output)
        self.outputs[table_name(output.name)] = output

    def register_flow(self, flow: Flow) -> None:
        super().register_flow(flow)
        self.flow_targets[table_name(flow.name)] = table_name(flow.target)

    def register_auto_cdc_flow(self, flow: AutoCdcFlow) -> None:
        super().register_auto_cdc_flow(flow)
        self.flow_targets[table_name(flow.name or flow.target)] = table_name(flow.target)

    @property
    def tables(self) -> dict[str, Output]:
        """Stored datasets (streaming tables and materialized views), not views or sinks."""
        return {
            name: output
            for name, output in self.outputs.items()
            if isinstance(output, (StreamingTable, MaterializedView))
        }


class ProgressListener(StreamingQueryListener):
    """Collects the micro-batch progress of the streaming flows of one update."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.update = 0
        self.flow_targets: dict[str, str] = {}
        self.terminated = 0
        self.metrics: dict[str, dict[str, int]] = {}

    def reset(self, update: int, flow_targets: dict[str, str]) -> None:
        with self._lock:
            self.update = update
            self.flow_targets = dict(flow_targets)
            self.terminated = 0
            self.metrics = {}

    def onQueryStarted(self, event: Any) -> None:
        pass

    def onQueryProgress(self, event: Any) -> None:
        progress = event.progress
        flow = table_name(progress.name or "")
        table = self.flow_targets.get(flow, flow)
        observed = {
            key: value
            for name, row in (progress.observedMetrics or {}).items()
            if name == dlt_sdp.observation_name(table)
            for key, value in row.asDict().items()
        }
        with self._lock:
            totals = self.metrics.setdefault(table, {})
            for key, value in observed.items():
                totals[key] = totals.get(key, 0) + int(value or 0)
        emit(
            Event(
                "progress",
                update=self.update,
                table=table,
                rows=int(progress.numInputRows),
                metrics=observed,
            )
        )

    def onQueryIdle(self, event: Any) -> None:
        pass

    def onQueryTerminated(self, event: Any) -> None:
        with self._lock:
            self.terminated += 1

    def wait_for(self, queries: int, timeout: float = 15.0) -> None:
        """Wait until `queries` streaming queries have ended: their last progress is then in."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.terminated >= queries:
                    return
            time.sleep(0.1)


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="laktory sdp driver")
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--full-refresh-all", action="store_true")
    parser.add_argument("--full-refresh", default="")
    parser.add_argument("--refresh", default="")
    parser.add_argument("--continuous", action="store_true")
    parser.add_argument("--watch", type=Path, help="folder whose changes trigger an update")
    parser.add_argument("--stop-file", type=Path, help="its existence stops a continuous run")
    parser.add_argument("--poll-seconds", type=float, default=2.0)
    parser.add_argument("--remote", required=True, help="Spark Connect URL of the server")
    return parser.parse_args(argv)


def _names(csv: str) -> list[str]:
    return [name.strip() for name in csv.split(",") if name.strip()]


def _open_session(spec: PipelineSpec, remote: str) -> SparkSession:
    """A client session on the server at `remote`, with the spec's configuration set.

    The retries are bounded before the first call reaches the server (setting the
    configuration is one): a server that is gone or stops answering ends the run in seconds.
    """
    spark = SparkSession.builder.remote(remote).getOrCreate()
    bound_client_retries(spark.client)  # type: ignore[attr-defined]
    configuration = {
        "spark.sql.connect.serverStacktrace.enabled": "false",
        # Days are cut in UTC, as on Databricks, whatever the server's own default (--remote).
        "spark.sql.session.timeZone": "UTC",
        **spec.configuration,
    }
    spark.conf._set_all(configs=configuration, silent=True)  # type: ignore[attr-defined]
    return spark


def _flow_state(message: str) -> tuple[str, str] | None:
    """`Flow 'spark_catalog.db.t' has FAILED.` -> (t, FAILED); None for other messages."""
    if not message.startswith("Flow "):
        return None
    words = message.rstrip(".").split()
    state = next((w for w in words[2:] if w in FLOW_MESSAGE_STATES), None)
    return (table_name(words[1].strip("'")), state) if state else None


_UNRESOLVED = re.compile(r"Failed to resolve flow: '([^']+)'[.:]?\s*(.*)", re.DOTALL)


def _unresolved_flow(message: str) -> tuple[str, str] | None:
    """`Failed to resolve flow: 'spark_catalog.db.t'...` -> (t, what to say); None for others."""
    match = _UNRESOLVED.match(message.strip())
    if match is None:
        return None
    flow = table_name(match.group(1))
    why = " ".join(line.strip() for line in match.group(2).splitlines() if line.strip())
    why = why.removeprefix("Error:").strip()
    return flow, f"does not resolve: {why or 'an input it reads is missing'}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _remove_orphan_locations(spark: SparkSession, database: str, tables: list[str]) -> None:
    """Delete the empty folder of a table the metastore does not know.

    Creating a table makes its folder, then commits the metastore; a kill in between leaves an
    empty folder that fails every later run with LOCATION_ALREADY_EXISTS. A folder holding
    files is left alone: it has data, and the error then tells the user to look.
    """
    folder = _table_folder(spark, database)
    for table in tables:
        location = folder / table
        if (
            location.is_dir()
            and not any(path.is_file() for path in location.rglob("*"))
            and not spark.catalog.tableExists(f"{database}.{table}")
        ):
            shutil.rmtree(location)


def _table_folder(spark: SparkSession, database: str) -> Path:
    """Where the warehouse keeps the tables of `database`."""
    warehouse = Path(urlparse(spark.conf.get("spark.sql.warehouse.dir") or "").path)
    return warehouse if database == "default" else warehouse / f"{database}.db"


def _count_cache(spec: PipelineSpec) -> CountCache:
    """The kept counts of this pipeline's storage (none when it is not a local folder)."""
    storage = urlparse(spec.storage or "")
    folder = Path(storage.path) if storage.scheme in ("", "file") and storage.path else None
    return CountCache(folder / COUNTS_FILE if folder is not None and folder.is_dir() else None)


def _counts(
    spark: SparkSession, database: str, tables: list[str], cache: CountCache
) -> dict[str, tuple[int, int]]:
    """Rows, and rows holding rescued data, of each table, in one Spark job.

    A table that does not exist counts (0, 0), and a table whose files are those of a kept
    count is not read again (`table_counts`). One job for all the other tables rather than
    one per table: on a warm server each job's round trip is a good part of a small update's
    time.
    """
    counts = dict.fromkeys(tables, (0, 0))
    if not tables:
        return counts
    present = {
        row.tableName.lower()
        for row in spark.sql(f"SHOW TABLES IN `{database}`").collect()
        if not row.isTemporary
    }
    folder = _table_folder(spark, database)
    fingerprints: dict[str, str | None] = {}
    frames = []
    for table in tables:
        if table.lower() not in present:
            continue
        fingerprint = folder_fingerprint(folder / table.lower())
        kept = cache.get(table, fingerprint)
        if kept is not None:
            counts[table] = (kept.rows, kept.rescued)
            continue
        fingerprints[table] = fingerprint
        frame = spark.read.table(f"{database}.{table}")
        rescued = (
            F.count_if(F.col(RESCUED_DATA_COLUMN).isNotNull())
            if RESCUED_DATA_COLUMN in frame.columns
            else F.lit(0)
        )
        frames.append(
            frame.agg(
                F.lit(table).alias("table"),
                F.count(F.lit(1)).cast("long").alias("rows"),
                rescued.cast("long").alias("rescued"),
            )
        )
    if frames:
        for row in functools.reduce(lambda left, right: left.unionByName(right), frames).collect():
            table = row["table"]
            counts[table] = (int(row["rows"]), int(row["rescued"]))
            fingerprint = fingerprints.get(table)
            if fingerprint is not None:
                cache.put(table, TableCount(fingerprint, *counts[table]))
        cache.save()
    return counts


def _reset_allowed(output: Output) -> bool:
    """Whether a full refresh clears the table: not with `pipelines.reset.allowed: false`, which
    SDP honours by refreshing the table incrementally (`DatasetManager.constructFullRefreshSet`),
    so its rows before the update still count."""
    properties = getattr(output, "table_properties", None) or {}
    value = {key.lower(): str(v) for key, v in properties.items()}.get(RESET_ALLOWED)
    return value is None or value.strip().lower() != "false"


def _run_update(
    spark: SparkSession,
    spec_path: Path,
    spec: PipelineSpec,
    listener: ProgressListener,
    update: int,
    selection: dict[str, Any],
) -> bool:
    """One update of the graph, reported as events; True when it completed."""
    database = spec.database or "default"
    graph_id = create_dataflow_graph(
        spark, default_catalog=spec.catalog, default_database=database, sql_conf=spec.configuration
    )
    registry = RecordingRegistry(spark, graph_id)
    dlt_sdp.reset()
    emit(Event("update_started", update=update))
    try:
        register_definitions(spec_path, registry, spec, spark, graph_id)
    except Exception as error:
        emit(Event("update_ended", update=update, state="FAILED", error=_first_line(error)))
        return False
    _remove_orphan_locations(spark, database, sorted(registry.tables))
    asked = set(registry.tables) if selection["full_refresh_all"] else set()
    asked |= set(selection["full_refresh"])
    from_scratch = {t for t in asked if t in registry.tables and _reset_allowed(registry.tables[t])}
    cache = _count_cache(spec)
    before = _counts(
        spark,
        database,
        [
            table
            for table, output in registry.tables.items()
            if isinstance(output, StreamingTable) and table not in from_scratch
        ],
        cache,
    )
    listener.reset(update, registry.flow_targets)
    ran, completed, failed_table, error = _follow_run(
        spark, graph_id, spec, registry, update, selection
    )
    if error is not None:
        # What follows only reports: a live server answers at once, and a lost one must not
        # hold the failure back for the length of the retries.
        spark.client.set_retry_policies([])  # type: ignore[attr-defined]
    streaming = [t for t in ran if isinstance(registry.tables.get(t), StreamingTable)]
    listener.wait_for(len(streaming), timeout=15.0 if error is None else 2.0)
    spark.catalog.setCurrentDatabase(database)
    # After a failure, the tables whose flows completed have committed their rows: report them.
    counted = [table for table in (ran if error is None else completed) if table in registry.tables]
    try:
        after = _counts(spark, database, counted, cache)
    except Exception:
        if error is None:
            raise
        counted = []  # the run's own error is what the user needs to see
    for table in counted:
        metrics = _table_metrics(table, after[table], registry, before, listener)
        emit(Event("table_counts", update=update, table=table, metrics=metrics))
    if error is None and dlt_sdp.FOREACH_BATCH_SINKS:  # SDP has none: streamed here, after
        listener.flow_targets.update(flow_sinks())
        refreshed = {table.lower() for table in from_scratch}
        failed = publish_foreach_batch_sinks(spec.storage or "", refreshed, update)
        if failed is not None:
            failed_table, error = failed
    if error is not None:
        emit(Event("update_ended", update=update, state="FAILED", table=failed_table, error=error))
        return False
    dlt_sdp.log_snapshots(spark)  # the snapshots read whole this update, for the next ones
    emit(Event("update_ended", update=update, state="COMPLETED"))
    return True


def _follow_run(
    spark: SparkSession,
    graph_id: str,
    spec: PipelineSpec,
    registry: RecordingRegistry,
    update: int,
    selection: dict[str, Any],
) -> tuple[list[str], list[str], str | None, str | None]:
    """Start the run and pass its flow events on.

    Returns the tables whose flows ran, those whose flows completed, the first table that
    failed, and the run's error.
    """
    ran: list[str] = []
    completed: list[str] = []
    failed_table: str | None = None
    unresolved_error: str | None = None
    try:
        results = start_run(spark, graph_id, storage=spec.storage, dry=False, **selection)
        for result in cast(Iterator[dict[str, Any]], results):
            if "pipeline_event_result" not in result:
                continue
            message = result["pipeline_event_result"].event.message
            unresolved = _unresolved_flow(message)
            if unresolved is not None and unresolved_error is None:
                # SDP ends with "Failed to resolve flows in the pipeline": the flow's own
                # event says which one, and why.
                failed_table = failed_table or registry.flow_targets.get(
                    unresolved[0], unresolved[0]
                )
                unresolved_error = unresolved[1]
            flow = _flow_state(message)
            if flow is None:
                continue
            table = registry.flow_targets.get(flow[0], flow[0])
            state = flow[1]
            if state == "RUNNING" and table not in ran:
                ran.append(table)
            if state == "COMPLETED" and table not in completed:
                completed.append(table)
            if state == "FAILED" and failed_table is None:
                failed_table = table
            emit(Event("flow", update=update, table=table, state=state))
    except Exception as error:
        return ran, completed, failed_table, unresolved_error or _first_line(error)
    return ran, completed, failed_table, None


def _table_metrics(
    table: str,
    after: tuple[int, int],
    registry: RecordingRegistry,
    before: dict[str, tuple[int, int]],
    listener: ProgressListener,
) -> dict[str, Any]:
    """A table's figures after an update, as the runner's report reads them."""
    rows_total, rescued_total = after
    rows_before, rescued_before = before.get(table, (0, 0))
    is_view = isinstance(registry.tables[table], MaterializedView)
    metrics: dict[str, Any] = {
        "materialized_view": is_view,
        "rows_before": rows_before,
        "rows_total": rows_total,
        "rescued_before": rescued_before,
        "rescued_total": rescued_total,
        "observed": listener.metrics.get(table, {}),
    }
    record = dlt_sdp.REGISTRY.get(table)
    if record is not None and record.expectations:
        metrics["expectations"] = {rule.name: rule.action for rule in record.expectations}
        if is_view:
            metrics["observed"] = dlt_sdp.count_expectations(record)
    return metrics


def _snapshot(folder: Path | None) -> frozenset[tuple[str, int, int]]:
    """What the landing folder holds: a change means new work for a continuous pipeline."""
    if folder is None or not folder.exists():
        return frozenset()
    return frozenset(
        (str(path), stat.st_size, stat.st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file() and (stat := path.stat())
    )


def _wait_for_change(
    args: argparse.Namespace, seen: frozenset[tuple[str, int, int]]
) -> frozenset[tuple[str, int, int]] | None:
    """Sleep until the landing folder changes (and settles); None once a stop is requested."""

    def stop_requested() -> bool:
        return bool(args.stop_file and args.stop_file.exists())

    while not stop_requested():
        time.sleep(args.poll_seconds)
        current = _snapshot(args.watch)
        if current != seen:
            # Files still being written change between two looks; wait until they settle.
            time.sleep(args.poll_seconds)
            settled = _snapshot(args.watch)
            if settled == current:
                return current
    return None


def main(argv: list[str]) -> int:
    """Run the pipeline; a failure outside an update (the server lost, say) is a failed update
    naming the server, never a traceback alone."""
    args = _parse_args(argv)
    try:
        return _main(args)
    except Exception as error:
        emit(
            Event(
                "update_ended",
                update=0,
                state="FAILED",
                error=f"the Spark Connect server {args.remote}: {_first_line(error)}",
            )
        )
        return 1


def _main(args: argparse.Namespace) -> int:
    spec_path = args.spec.resolve()
    spec = with_secret_configuration(load_pipeline_spec(spec_path))
    spark = _open_session(spec, args.remote)
    notebook_globals.install()  # `display`, and `spark.conf.set` as DLT means it
    listener = ProgressListener()
    try:
        database = spec.database or "default"
        if not spark.catalog.databaseExists(database):
            spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        spark.streams.addListener(listener)
        selection: dict[str, Any] = {
            "full_refresh": _names(args.full_refresh),
            "full_refresh_all": args.full_refresh_all,
            "refresh": _names(args.refresh),
        }
        update = 0
        seen = _snapshot(args.watch)
        while True:
            if not _run_update(spark, spec_path, spec, listener, update, selection):
                return 1
            if not args.continuous:
                return 0
            # Later updates are incremental, whatever the first one was asked to do, and run
            # the tables the first refreshed in full too.
            refresh = selection["refresh"] and [*selection["refresh"], *selection["full_refresh"]]
            selection = {"full_refresh": [], "full_refresh_all": False, "refresh": refresh}
            changed = _wait_for_change(args, seen)
            if changed is None:
                return 0
            seen = changed
            update += 1
    except BaseException:
        spark.client.set_retry_policies([])  # type: ignore[attr-defined]
        raise
    finally:
        # Removed while the session is open: at exit, pyspark would try without one and warn.
        with contextlib.suppress(Exception):
            spark.streams.removeListener(listener)
        with contextlib.suppress(Exception):
            spark.stop()


def _exit(code: int) -> None:
    """End the process now, whatever threads remain.

    The client's listener and result-stream threads may still wait on a server that failed or
    went away; nothing of theirs is needed once the update's events are out, and waiting for
    them is how a failed run used to hang.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main(sys.argv[1:]))
