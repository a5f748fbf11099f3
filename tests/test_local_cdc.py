"""Change data capture in local runs: SCD 1 and 2 over updates, late events and deletes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from test_local_support import land, make_project, read_table, rows_of, run, run_state

pytestmark = [pytest.mark.slow, pytest.mark.spark]

EVENTS = Path("events") / "crm" / "customer"
PIPELINE = """\
name: pl-customers
target: crm
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz_customers
    builder:
      layer: BRONZE
      event_source:
        name: customer
        producer: {name: crm}
        schema_ddl: "id INT, name STRING, op STRING, seq INT"
  - name: slv_customers
    builder:
      layer: SILVER
      table_source:
        name: brz_customers
        cdc: {primary_keys: [id], sequence_by: seq, scd_type: 1, apply_as_deletes: "op = 'D'", except_columns: [op]}
    columns: &columns
      - {name: id, type: int, spark_func_name: coalesce, spark_func_args: [id]}
      - {name: name, type: string, spark_func_name: coalesce, spark_func_args: [name]}
      - {name: op, type: string, spark_func_name: coalesce, spark_func_args: [op]}
      - {name: seq, type: int, spark_func_name: coalesce, spark_func_args: [seq]}
    expectations:  # on the change feed; a delete has no name
      - {name: named, expression: name IS NOT NULL, action: WARN}
  - name: slv_customers_history
    builder:
      layer: SILVER
      table_source:
        name: brz_customers
        cdc: {primary_keys: [id], sequence_by: seq, scd_type: 2, apply_as_deletes: "op = 'D'", except_columns: [op]}
    columns: *columns
"""


def _changes(*changes: tuple[int, str | None, str, int]) -> list[str]:
    return [json.dumps({"id": i, "name": n, "op": op, "seq": s}) for i, n, op, s in changes]


def test_change_feed_becomes_scd1_and_scd2_tables(spark: SparkSession, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", PIPELINE, "pl-customers")
    landing, state = tmp_path / "landing", tmp_path / "state"

    land(landing, EVENTS, "1.json", _changes((1, "a1", "U", 1), (2, "b1", "U", 1),
                                             (1, "a2", "U", 3), (3, "c1", "U", 1)))  # fmt: skip
    assert run(project, "pl-customers", landing, state) == 0
    latest = read_table(spark, state, "slv_customers", "crm")
    assert rows_of(latest, ["id", "name", "seq"]) == [(1, "a2", 3), (2, "b1", 1), (3, "c1", 1)]

    # Second run: a late update of 1 (seq 2 < 3), deletes of 2 and of a new key 4, and an update
    # of 3 sent twice with the same values.
    land(landing, EVENTS, "2.json", _changes((1, "a1b", "U", 2), (2, None, "D", 2),
                                             (3, "c2", "U", 2), (3, "c2", "U", 4),
                                             (4, "d1", "U", 1), (4, None, "D", 3)))  # fmt: skip
    assert run(project, "pl-customers", landing, state) == 0

    latest = read_table(spark, state, "slv_customers", "crm")
    assert "op" not in latest.columns
    assert rows_of(latest, ["id", "name", "seq"]) == [(1, "a2", 3), (3, "c2", 4)]

    history = read_table(spark, state, "slv_customers_history", "crm")
    assert rows_of(history, ["id", "name", "__START_AT", "__END_AT"]) == [
        (1, "a1", 1, 2),
        (1, "a1b", 2, 3),
        (1, "a2", 3, None),
        (2, "b1", 1, 2),
        (3, "c1", 1, 2),
        (3, "c2", 2, None),
        (4, "d1", 1, 3),
    ]
    report = run_state(state)
    assert report.tables["slv_customers"].rows_total == 2
    # A CDC table's expectations are reported (issue #18: they were `{}`), on its change feed:
    # the second run's feed holds all 10 changes, 2 of them deletes without a name.
    named = report.tables["slv_customers"].expectations["named"]
    assert (named.action, named.passed_rows, named.failed_rows) == ("WARN", 8, 2)
    assert report.tables["slv_customers_history"].rows_total == 7
