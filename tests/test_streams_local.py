"""Quarantine of several flows and of a change feed, and a file sink, on the local engine
(issue #20 items 3 and 4, issue #24 case 14).

One pipeline, run three times on one state folder (the engine start and the runs are paid once
for every test of the module):

1. a bronze fed by two event sources with `quarantine: true`: the failing rows of both flows
   land in `brz_orders_quarantine`, each with its flow key and file, counted per flow; a silver
   SCD 2 table with `quarantine: true` sends its NULL-sequence change there, never to history;
   two sinks publish bronze's rows: parquet files for a delta sink, JSON records of Kafka's
   `value` for a kafka sink (no broker, no secret needed locally);
2. more files landed, the run killed with SIGKILL (runner, driver and engine) once the sink's
   flow runs;
3. the run again: the sink holds every upstream row exactly once, the quarantines too;
4. the delta sink's folder deleted, and the run again: the sink publishes its table again, each
   row once (its checkpoint alone would say every row was published already).

A foreach_batch sink (issue #20 Build item 4) rides along: the repository's
`notebooks/sink_handlers.py` writes each micro-batch to `<folder>/batch_id=<id>`, overwriting,
so after the kill and the rerun it holds every row once; run 4 brings no new row, and its
folders stay as they were. In run 1 its Python worker is made to connect back late, as on a
loaded machine (a `sitecustomize` on the engine's PYTHONPATH sleeps past Spark's 10 s, once):
the flow's query is started again and the handler still gets every row once.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from test_local_support import kill_run_when, land, make_project, read_table, rows_of, run

from laktory_pulumi.local.engine import stop_engine
from laktory_pulumi.local.layout import StateLayout
from laktory_pulumi.local.run_state import RunState

pytestmark = [pytest.mark.spark]

DATABASE = "shop"
SHOP = Path("events") / "shop" / "order"
PARTNER = Path("events") / "partner" / "order"
CHANGES = Path("events") / "shop" / "change"
PIPELINE = """\
name: pl-streams
target: shop
configuration: {sink_handlers.folder: "HANDLED"}
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz_orders
    quarantine: true
    expectations:
      - {name: has_order, expression: order_id IS NOT NULL, action: DROP}
    builder:
      layer: BRONZE
      event_sources:
        - {name: order, producer: {name: shop}}
        - {name: order, producer: {name: partner}}
  - name: brz_changes
    builder:
      layer: BRONZE
      event_source: {name: change, producer: {name: shop}}
  - name: slv_customers
    quarantine: true
    builder:
      layer: SILVER
      table_source:
        name: brz_changes
        cdc: {primary_keys: [id], sequence_by: seq, scd_type: 2}
    columns:
      - {name: id, type: long, sql_expression: id}
      - {name: city, type: string, sql_expression: city}
      - {name: seq, type: long, sql_expression: seq}
sinks:
  - name: orders_out
    table: brz_orders
    format: delta
    options: {path: "/Volumes/shop/out/orders"}
    select: [order_id, customer]
  - name: orders_kafka
    table: brz_orders
    format: kafka
    options:
      kafka.bootstrap.servers: "broker:9093"
      topic: orders
      kafka.sasl.jaas.config: 'PlainLoginModule required password="${secret.kafka/password}";'
  - name: orders_handled
    table: brz_orders
    format: foreach_batch
    function: {module_name: sink_handlers, function_name: write_batch}
    select: [order_id, customer]
"""


def _orders(*ids: int | None) -> list[str]:
    return [json.dumps({"order_id": i, "customer": f"c{i}"}) for i in ids]


def _change(key: int, city: str, seq: int | None) -> str:
    return json.dumps({"id": key, "city": city, "seq": seq})


def _batches(spark: SparkSession, folder: Path) -> dict[str, list[tuple[object, ...]]]:
    """The rows the handler wrote, by its batch's folder."""
    return {
        batch.name: rows_of(spark.read.json(str(batch)), ["order_id", "customer"])
        for batch in sorted(folder.glob("batch_id=*"))
    }


@dataclass
class Runs:
    """What the four runs left: the state folder, each run's state, what the sink held."""

    state: Path
    first: RunState
    killed_output: list[str]
    last: RunState
    last_code: int
    published_after_rerun: list[tuple[object, ...]]
    republish_output: str
    republish_code: int
    handled: Path
    handled_first: list[tuple[object, ...]]
    first_log: str
    late_worker_started: bool
    handled_after_rerun: dict[str, list[tuple[object, ...]]]


LATE_WORKER = """\
import os, sys, time
marker = os.path.join(os.path.dirname(__file__), "worker-was-late")
if "foreach_batch_worker" in " ".join(sys.orig_argv) and not os.path.exists(marker):
    open(marker, "w").close()
    time.sleep(12)  # past PythonWorkerFactory's 10 s to connect back
"""


@contextlib.contextmanager
def late_first_foreach_worker(folder: Path) -> Iterator[Path]:
    """An engine started in this block runs its first foreachBatch Python worker 12 s late.

    Spark's workers keep the server's PYTHONPATH, so a `sitecustomize` there runs in each of
    them; yields the marker file the late worker leaves.
    """
    folder.mkdir(parents=True)
    (folder / "sitecustomize.py").write_text(LATE_WORKER)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), before]))
    try:
        yield folder / "worker-was-late"
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> Iterator[Runs]:
    root = tmp_path_factory.mktemp("streams")
    handled = root / "handled"
    pipeline = PIPELINE.replace("HANDLED", str(handled))
    project = make_project(root / "project", pipeline, "pl-streams")
    landing, state = root / "landing", root / "state"
    land(landing, SHOP, "o1.json", _orders(1, 2, None))
    land(landing, PARTNER, "p1.json", _orders(3, None, None))
    land(
        landing,
        CHANGES,
        "ch1.json",
        [_change(1, "a", 1), _change(2, "b", 1), _change(3, "x", None)],
    )
    try:
        with late_first_foreach_worker(root / "late-worker") as late_marker:
            assert run(project, "pl-streams", landing, state) == 0
        first = RunState.read(state)
        first_log = Path(first.log_file or "").read_text()
        handled_first = rows_of(spark.read.json(str(handled)), ["order_id", "customer"])

        land(landing, SHOP, "o2.json", _orders(4, None))
        land(landing, PARTNER, "p2.json", _orders(5))
        land(landing, CHANGES, "ch2.json", [_change(1, "c", 2), _change(4, "y", None)])

        def sink_runs(line: str) -> bool:
            return "orders_out" in line and "running" in line

        killed = kill_run_when(project, "pl-streams", landing, state, sink_runs, delay=0.2)
        code = run(project, "pl-streams", landing, state)
        last = RunState.read(state)
        sink_folder = state / "sinks" / "orders_out"
        published = rows_of(spark.read.parquet(str(sink_folder)), ["order_id", "customer"])
        handled_after_rerun = _batches(spark, handled)

        shutil.rmtree(sink_folder)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            republish_code = run(project, "pl-streams", landing, state)
        yield Runs(
            state,
            first,
            killed,
            last,
            code,
            published,
            printed.getvalue(),
            republish_code,
            handled,
            handled_first,
            first_log,
            late_marker.is_file(),
            handled_after_rerun,
        )
    finally:
        stop_engine(StateLayout.at(state))


def test_one_quarantine_takes_the_failing_rows_of_every_flow_with_flow_and_file(
    runs: Runs, spark: SparkSession
) -> None:
    tables = runs.first.tables
    # Counted per flow, and for the table: 1 row of the shop's file, 2 of the partner's.
    assert tables["brz_orders_quarantine__events_shop_order"].rows_written == 1
    assert tables["brz_orders_quarantine__events_partner_order"].rows_written == 2
    assert tables["brz_orders"].quarantined == 3
    # Each flow checks the table's rules on its own rows (DLT declares them on the target).
    for flow, failed in (("events_shop_order", 1), ("events_partner_order", 2)):
        assert tables[f"brz_orders__{flow}"].expectations["has_order"].failed_rows == failed

    # After the rerun every failing row is there once: 2 more flows' rows in the second files.
    assert runs.last_code == 0
    quarantined = read_table(spark, runs.state, "brz_orders_quarantine", DATABASE)
    rows = quarantined.select("_flow", "_source_file", "_failed_expectations").collect()
    files = Counter((row["_flow"], Path(row["_source_file"]).name) for row in rows)
    assert files == {
        ("events_shop_order", "o1.json"): 1,
        ("events_partner_order", "p1.json"): 2,
        ("events_shop_order", "o2.json"): 1,
    }
    assert all(row["_failed_expectations"] == ["has_order"] for row in rows)
    kept = read_table(spark, runs.state, "brz_orders", DATABASE)
    assert sorted(row.order_id for row in kept.collect()) == [1, 2, 3, 4, 5]


def test_a_null_sequence_change_is_quarantined_and_never_in_history(
    runs: Runs, spark: SparkSession
) -> None:
    first = runs.first.tables["slv_customers"]
    assert first.quarantined == 1
    assert first.expectations["sequence_not_null"].action == "DROP"
    assert first.expectations["sequence_not_null"].failed_rows == 1

    quarantine = read_table(spark, runs.state, "slv_customers_quarantine", DATABASE)
    assert rows_of(quarantine, ["id", "city", "seq", "_failed_expectations"]) == [
        (3, "x", None, ["sequence_not_null"]),
        (4, "y", None, ["sequence_not_null"]),
    ]
    history = read_table(spark, runs.state, "slv_customers", DATABASE)
    assert rows_of(history, ["id", "city", "__START_AT", "__END_AT"]) == [
        (1, "a", 1, 2),
        (1, "c", 2, None),
        (2, "b", 1, None),
    ]


def test_a_file_sink_holds_every_upstream_row_once_across_a_kill_and_a_rerun(
    runs: Runs, spark: SparkSession
) -> None:
    assert not any("completed in" in line for line in runs.killed_output)
    assert runs.published_after_rerun == [(key, f"c{key}") for key in (1, 2, 3, 4, 5)]
    # The Kafka sink's stand-in: each row once, as the JSON `value` a broker would get.
    records = spark.read.json(str(runs.state / "sinks" / "orders_kafka"))
    values = [json.loads(row.value) for row in records.collect()]
    assert sorted(value["order_id"] for value in values) == [1, 2, 3, 4, 5]
    assert all(value["customer"] == f"c{value['order_id']}" for value in values)


def test_a_deleted_sink_folder_is_published_again_each_row_once(
    runs: Runs, spark: SparkSession
) -> None:
    assert runs.republish_code == 0
    assert "sink orders_out: its files were deleted" in runs.republish_output
    # Only the deleted sink is published again; the Kafka stand-in kept its files.
    assert "sink orders_kafka" not in runs.republish_output
    published = spark.read.parquet(str(runs.state / "sinks" / "orders_out"))
    assert published.columns == ["order_id", "customer"]
    assert rows_of(published, ["order_id", "customer"]) == [
        (key, f"c{key}") for key in (1, 2, 3, 4, 5)
    ]
    records = spark.read.json(str(runs.state / "sinks" / "orders_kafka"))
    assert records.count() == 5


def test_a_foreach_batch_handler_gets_every_row_once_and_nothing_when_nothing_is_new(
    runs: Runs, spark: SparkSession
) -> None:
    assert runs.handled_first == [(key, f"c{key}") for key in (1, 2, 3)]
    # Run 1's worker connected back too late once: the query was started again.
    assert runs.late_worker_started
    assert "foreach_batch flow" in runs.first_log
    assert "did not connect back within Spark's 10 s" in runs.first_log
    # After the killed run and the rerun: every row once, in the batches the handler wrote.
    batches = runs.handled_after_rerun
    rows = sorted(row for batch in batches.values() for row in batch)
    assert rows == [(key, f"c{key}") for key in (1, 2, 3, 4, 5)]
    assert "batch_id=0" in batches
    # Run 4 brought nothing new for bronze: the handler wrote no batch, changed none.
    assert runs.republish_code == 0
    assert _batches(spark, runs.handled) == batches
    assert "sink orders_handled" not in runs.republish_output
