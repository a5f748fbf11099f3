"""Bad data and reruns on the local engine, counted row by row (issue #24).

One pipeline of orders, run four times on one state folder so that the engine start and the
runs are paid once for every case:

- case 1: a bronze fed by two event sources (append flows) -> silver -> a silver-star stream;
- cases 3, 13, 14: a change feed re-delivered by a later file, with a conflicting change and
  a NULL sequence, applied as SCD 2;
- case 4: a truncated JSON line in a quarantined bronze;
- case 6: a field whose case changes (`Amount` for `amount`);
- case 9: integers, then a decimal in a later run;
- case 10: a landed file named `o[5].json`;
- case 11: a table's folder deleted while the engine is warm;
- case 12: `--table slv_orders --full-refresh` after the landing's retention removed old files;
- case 17: files in dated sub-folders.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from test_local_support import land, make_project, read_table, run, run_state

from laktory_pulumi.local.engine import stop_engine
from laktory_pulumi.local.layout import StateLayout

pytestmark = [pytest.mark.slow, pytest.mark.spark]

DATABASE = "shop"
SHOP = Path("events") / "shop" / "order"
PARTNER = Path("events") / "partner" / "order"
PAYMENTS = Path("events") / "shop" / "payment"
CHANGES = Path("events") / "shop" / "change"
PIPELINE = """\
name: pl-orders
target: shop
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
  - notebook: {path: /pipelines/dlt_slv_star_template.py}
tables:
  - name: brz_orders
    builder:
      layer: BRONZE
      event_sources:
        - {name: order, producer: {name: shop}}
        - {name: order, producer: {name: partner}}
  - name: brz_payments
    quarantine: true
    expectations:
      - {name: has_order, expression: order_id IS NOT NULL, action: DROP}
    builder:
      layer: BRONZE
      event_source: {name: payment, producer: {name: shop}}
  - name: brz_changes
    builder:
      layer: BRONZE
      event_source: {name: change, producer: {name: shop}}
  - name: slv_orders
    builder:
      layer: SILVER
      table_source: {name: brz_orders, read_as_stream: true}
    columns:
      - {name: order_id, type: long, sql_expression: order_id}
      - {name: customer, type: string, sql_expression: customer}
      - {name: amount, type: double, sql_expression: amount}
  - name: slv_star_orders
    builder:
      layer: SILVER_STAR
      table_source: {name: slv_orders, read_as_stream: true}
  - name: slv_customers
    builder:
      layer: SILVER
      table_source:
        name: brz_changes
        cdc: {primary_keys: [id], sequence_by: seq, scd_type: 2}
    columns:
      - {name: id, type: long, sql_expression: id}
      - {name: city, type: string, sql_expression: city}
      - {name: seq, type: long, sql_expression: seq}
"""


def _orders(*rows: tuple[int, str, Any], amount: str = "amount") -> list[str]:
    return [json.dumps({"order_id": i, "customer": c, amount: a}) for i, c, a in rows]


def _ids(spark: SparkSession, state: Path, table: str) -> list[int]:
    return sorted(row.order_id for row in read_table(spark, state, table, DATABASE).collect())


def _amounts(spark: SparkSession, state: Path, table: str) -> dict[int, Any]:
    rows = read_table(spark, state, table, DATABASE).collect()
    return {row.order_id: row.amount for row in rows}


def test_bad_files_and_reruns_never_lose_double_or_block_rows(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "project", PIPELINE, "pl-orders")
    landing, state = tmp_path / "landing", tmp_path / "state"
    land(landing, SHOP, "o1.json", _orders((1, "ann", 10), (2, "bob", 20)))
    land(landing, PARTNER, "p1.json", _orders((3, "cy", 30)))
    land(landing, SHOP / "2024-01-01", "o4.json", _orders((4, "dee", 40)))  # case 17
    land(landing, SHOP, "o[5].json", _orders((5, "eve", 50)))  # case 10
    land(landing, PAYMENTS, "pay1.json", [json.dumps({"order_id": 1, "paid": 10})])
    first = [json.dumps({"id": key, "city": f"c{key}", "seq": 1}) for key in range(6)]
    second = [json.dumps({"id": key, "city": f"d{key}", "seq": 2}) for key in range(6)]
    land(landing, CHANGES, "ch1.json", first + second)
    try:
        # Run 1. Before: the dated sub-folder's order and `o[5].json` (all 6 files of the
        # folder, whose schema inference failed on the name) were never read.
        assert run(project, "pl-orders", landing, state) == 0
        assert _ids(spark, state, "brz_orders") == [1, 2, 3, 4, 5]
        assert _ids(spark, state, "slv_star_orders") == [1, 2, 3, 4, 5]

        # Run 2: a field in another case, a decimal after integers, the changes delivered
        # again, and a truncated payment line whose order id parsed before the break.
        land(landing, SHOP, "o6.json", _orders((6, "fay", 60), amount="Amount"))
        land(landing, PARTNER, "p7.json", _orders((7, "gus", 7.25)))
        conflict = json.dumps({"id": 0, "city": "z0", "seq": 2})  # case 13
        no_sequence = json.dumps({"id": 1, "city": "n1", "seq": None})  # case 14
        land(landing, CHANGES, "ch2.json", [*second, conflict, no_sequence])
        truncated = '{"order_id": 3, "paid": 3'
        land(landing, PAYMENTS, "pay2.json", [json.dumps({"order_id": 2, "paid": 20}), truncated])
        assert run(project, "pl-orders", landing, state) == 0
        tables = run_state(state).tables

        # Case 1: before, the stream of the two-flow bronze read it whole again (8 rows for
        # 5 orders after a second run); each appended row is read once.
        assert _ids(spark, state, "slv_star_orders") == [1, 2, 3, 4, 5, 6, 7]
        assert tables["slv_star_orders"].rows_written == 2
        # Case 6: `Amount` is read into `amount` (before: a second column, then every run
        # failed to resolve its flows).
        assert _amounts(spark, state, "slv_orders")[6] == 60.0
        # Case 9: the decimal after integers is rescued, the column stays a long (before:
        # CANNOT_MERGE_INCOMPATIBLE_DATA_TYPE on every later run, 2 orders of 4 in bronze).
        bronze = read_table(spark, state, "brz_orders", DATABASE)
        assert dict(bronze.dtypes)["amount"] == "bigint"
        (decimal,) = bronze.where("order_id = 7").collect()
        assert decimal.amount is None and json.loads(decimal._rescued_data)["amount"] == 7.25
        # Case 3: the re-delivered changes are a no-op: every key keeps a current version
        # (before: all 6 closed at `__END_AT = 2`).
        history = read_table(spark, state, "slv_customers", DATABASE)
        assert history.count() == 12
        current = history.where("__END_AT IS NULL").collect()
        # Case 13: the conflicting change of key 0 wins by the documented rule; case 14: the
        # NULL sequence is never applied. Both are warned about in the summary.
        assert sorted((row.id, row.city) for row in current) == [(0, "z0")] + [
            (k, f"d{k}") for k in range(1, 6)
        ]
        warned = tables["slv_customers"].expectations
        assert warned["one_change_per_sequence"].failed_rows == 3  # d0 twice, z0
        assert warned["sequence_not_null"].failed_rows == 1
        # Case 4: the truncated line is dropped from bronze and reaches its quarantine (before:
        # the JSON parser's pushed-down filter skipped it, 1 dropped and 0 quarantined).
        assert _ids(spark, state, "brz_payments") == [1, 2]
        (broken,) = read_table(spark, state, "brz_payments_quarantine", DATABASE).collect()
        assert broken._rescued_data == truncated and broken._source_file.endswith("pay2.json")
        assert tables["brz_payments"].quarantined == 1
        assert tables["brz_payments_quarantine"].rows_written == 1

        # Run 3. Case 11: the folder of brz_payments is deleted while the engine is warm.
        # Case 12: retention removed the first order files, and silver alone is refreshed.
        shutil.rmtree(state / "warehouse" / f"{DATABASE}.db" / "brz_payments")
        land(landing, PAYMENTS, "pay3.json", [json.dumps({"order_id": 4, "paid": 40})])
        (landing / SHOP / "o1.json").unlink()
        (landing / PARTNER / "p1.json").unlink()
        capsys.readouterr()
        argv = ["--table", "slv_orders", "--full-refresh"]
        assert run(project, "pl-orders", landing, state, *argv) == 0
        printed = capsys.readouterr().out
        assert "brz_payments: the table's stored data was deleted; rebuilding it" in printed
        # Before: the run wrote only the new payment, and every later run failed.
        assert _ids(spark, state, "brz_payments") == [1, 2, 4]
        assert read_table(spark, state, "brz_payments_quarantine", DATABASE).count() == 1
        # Before: bronze was refreshed too and, its first files gone, bronze and silver ended
        # empty. Bronze keeps its rows; silver and its reader are rebuilt from them.
        assert _ids(spark, state, "brz_orders") == [1, 2, 3, 4, 5, 6, 7]
        assert _ids(spark, state, "slv_orders") == [1, 2, 3, 4, 5, 6, 7]
        assert _ids(spark, state, "slv_star_orders") == [1, 2, 3, 4, 5, 6, 7]

        # Run 4: a plain run after all that adds the new order once and nothing else.
        land(landing, SHOP, "o8.json", _orders((8, "hal", 80)))
        assert run(project, "pl-orders", landing, state) == 0
        tables = run_state(state).tables
        assert _ids(spark, state, "slv_star_orders") == [1, 2, 3, 4, 5, 6, 7, 8]
        assert tables["slv_star_orders"].rows_written == 1
        assert tables["brz_payments"].rows_written == 0
        assert _ids(spark, state, "brz_payments") == [1, 2, 4]
    finally:
        stop_engine(StateLayout.at(state))
