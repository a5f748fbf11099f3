"""A Kafka source run locally: records replayed from landed JSON lines, through the bronze code
Databricks runs on the Kafka connector's rows (`runtime/stream_readers.py`).

One module-scoped pair of runs: the first update reads three records (one value that is not
JSON), the second only the record landed since (the file stream's checkpoint). Bronze keeps
`key`, the parsed `value`, `topic`, `partition`, `offset` and `timestamp`; silver reads the
parsed fields (the SASL login's secret references need nothing locally). `validate --deep`
analyses the same pipeline from its declared schema, and finds a silver column reading a field
the value does not have.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from test_local_support import land, make_project, read_table, rows_of, run

from laktory_pulumi.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.spark]

NAME = "pl-orders-stream"
EVENTS = Path("events") / "shop" / "orders"
PIPELINE = f"""\
name: {NAME}
target: shop
libraries:
  - notebook: {{path: /pipelines/dlt_brz_template.py}}
  - notebook: {{path: /pipelines/dlt_slv_template.py}}
tables:
  - name: brz_orders
    builder:
      layer: BRONZE
      event_source:
        name: orders
        producer: {{name: shop}}
        type: STREAM_KAFKA
        kafka:
          bootstrap_servers: broker-1:9092,broker-2:9092
          topics: [orders]
          starting_offsets: earliest
          # References only; a local run connects to no broker and reads no secret.
          sasl: {{username: "${{secret.kafka/api-key}}", password: "${{secret.kafka/api-secret}}"}}
        schema_ddl: "id INT, amount DOUBLE, status STRING"
  - name: slv_orders
    builder:
      layer: SILVER
      table_source: {{name: brz_orders}}
    columns:
      - {{name: id, type: int, sql_expression: value.id}}
      - {{name: amount, type: double, sql_expression: value.amount}}
      - {{name: topic, type: string, sql_expression: topic}}
      - {{name: kafka_offset, type: bigint, sql_expression: '`offset`'}}
tests:
  - name: orders_parsed_from_kafka_records
    table: slv_orders
    given:
      - event_source: orders
        rows:
          - {{key: k9, value: {{id: 7, amount: 2.5}}, topic: orders, partition: 0, offset: 9,
             timestamp: "2024-05-01T10:00:09Z"}}
    expect:
      rows: [{{id: 7, amount: 2.5, topic: orders, kafka_offset: 9}}]
"""


def record(offset: int, value: object, *, key: str = "k", partition: int = 0) -> str:
    """One replayed record, as a landed JSON line (the value's text, or a JSON object)."""
    return json.dumps(
        {
            "key": key,
            "value": value,
            "topic": "orders",
            "partition": partition,
            "offset": offset,
            "timestamp": f"2024-05-01T10:00:0{offset}Z",
        }
    )


@dataclass
class Runs:
    project: Path
    landing: Path
    state: Path
    tested: tuple[int, str]
    first: list[tuple[object, ...]]
    second: list[tuple[object, ...]]
    bronze_columns: list[str]
    silver: list[tuple[object, ...]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> Runs:
    root = tmp_path_factory.mktemp("kafka")
    project = make_project(root / "project", PIPELINE, NAME)
    landing, state = root / "landing", root / "state"
    land(
        landing,
        EVENTS,
        "batch-1.json",
        [
            record(0, json.dumps({"id": 1, "amount": 9.5, "status": "new"})),
            record(1, {"id": 2, "amount": 3.0, "status": "paid"}, key="k2", partition=1),
            record(2, "not json {"),
        ],
    )
    assert run(project, NAME, landing, state) == 0
    columns = ["key", "value.id", "topic", "partition", "offset", "timestamp", "_rescued_data"]
    bronze = read_table(spark, state, "brz_orders", "shop")
    first = rows_of(bronze, columns)
    land(landing, EVENTS, "batch-2.json", [record(3, {"id": 3, "amount": 1.25})])
    assert run(project, NAME, landing, state) == 0
    bronze = read_table(spark, state, "brz_orders", "shop")
    silver = read_table(spark, state, "slv_orders", "shop")
    # The table test (records given in the replayed shape), on the run's warm engine.
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tested = main(["test", "--project", str(project), "--state", str(state)])
    return Runs(
        project,
        landing,
        state,
        (tested, out.getvalue()),
        first,
        rows_of(bronze, columns),
        bronze.columns,
        rows_of(silver, ["id", "amount", "topic", "kafka_offset"]),
    )


def test_bronze_has_the_kafka_row_columns_and_the_parsed_value(runs: Runs) -> None:
    assert runs.bronze_columns == [
        "key",
        "value",
        "topic",
        "partition",
        "offset",
        "timestamp",
        "_rescued_data",
        "_bronze_at",
    ]
    from datetime import datetime

    assert runs.first == [
        ("k", 1, "orders", 0, 0, datetime(2024, 5, 1, 10, 0, 0), None),
        ("k", None, "orders", 0, 2, datetime(2024, 5, 1, 10, 0, 2), "not json {"),
        ("k2", 2, "orders", 1, 1, datetime(2024, 5, 1, 10, 0, 1), None),
    ]


def test_a_rerun_adds_only_the_records_landed_since(runs: Runs) -> None:
    assert len(runs.second) == 4
    assert set(runs.first) < set(runs.second)
    (new,) = set(runs.second) - set(runs.first)
    assert new[1:5] == (3, "orders", 0, 3)


def test_silver_reads_the_parsed_value_and_the_positions(runs: Runs) -> None:
    assert runs.silver == [
        (1, 9.5, "orders", 0),
        (2, 3.0, "orders", 1),
        (3, 1.25, "orders", 3),
        (None, None, "orders", 2),
    ]


def test_deep_validation_analyses_silver_from_the_declared_value_schema(
    spark: SparkSession, tmp_path: Path
) -> None:
    """No broker, no landed record: the bronze columns come from the Kafka row shape and the
    value's `schema_ddl`, so a silver column reading a field the value lacks is found at its
    line, and one reading a Kafka position resolves."""
    from laktory_pulumi.analysis.deep import analyse_pipeline
    from laktory_pulumi.loader import load_pipeline_file

    file = tmp_path / f"{NAME}.yaml"
    file.write_text(PIPELINE)
    assert analyse_pipeline(load_pipeline_file(file, {}), spark) == []

    file.write_text(PIPELINE.replace("sql_expression: value.amount", "sql_expression: value.amout"))
    (finding,) = analyse_pipeline(load_pipeline_file(file, {}), spark)
    assert finding.path == ("tables", 1, "columns", 1, "sql_expression")
    assert "amout" in finding.message and not finding.notice


def test_a_table_test_gives_records_in_the_replayed_shape(runs: Runs) -> None:
    code, out = runs.tested
    assert code == 0, out
    assert "orders_parsed_from_kafka_records" in out and "1 passed" in out, out
