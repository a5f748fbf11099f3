"""CDC from snapshots and several change feeds into one table, in local runs (issue #20).

DLT-META's own snapshot integration data (tests/data/dlt_meta_snapshots/README.md says where
it comes from and how DLT-META's job lands it), translated to our YAML and landed update by
update, gives what DLT keeps (DLT's Python reference, create_auto_cdc_from_snapshot_flow: new
keys inserted, changed rows updated, "rows with keys present in the target but no longer
present in the source are deleted"):

- stores, ids 1-4, then 1-2 changed (3 and 4 gone), then 1 changed and 5 new (2 gone): SCD 1
  ends with 2 rows; SCD 2 with 8 versions, 2 of them open;
- products, LOAD_1 then LOAD_2 (DLT-META's third step writes products' LOAD_3 into the stores
  table, so products never see it): SCD 2 holds 27 rows, 20 versions then 7 changed;
- silver products, one snapshot per update of bronze's open rows (DLT-META's
  `silver_transformations_snapshot.json`: `__END_AT IS NULL`), also 27: its history is kept
  across updates.

The same three updates feed a table from two change feeds (orders from a web shop and from a
call centre): the latest change of a key wins, whichever feed brought it. One module-scoped
run of three updates serves every test here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from test_local_support import land, make_project, read_table, rows_of, run, run_state

pytestmark = [pytest.mark.slow, pytest.mark.spark]

DATA = Path(__file__).parent / "data" / "dlt_meta_snapshots"
SNAPSHOTS = Path("events") / "erp"
ORDERS_WEB = Path("events") / "web" / "orders"
ORDERS_CALLS = Path("events") / "calls" / "orders"
PIPELINE = r"""
name: pl-retail
target: retail
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz_stores
    builder:
      layer: BRONZE
      event_source: &stores
        name: stores
        producer: {name: erp}
        format: CSV
        snapshots: {primary_keys: [store_id], version_pattern: 'LOAD_(\d+)\.csv'}
  - name: brz_stores_history
    builder:
      layer: BRONZE
      event_source:
        <<: *stores
        snapshots: {primary_keys: [store_id], scd_type: 2, version_pattern: 'LOAD_(\d+)\.csv'}
  - name: brz_products
    builder:
      layer: BRONZE
      event_source:
        name: products
        producer: {name: erp}
        format: CSV
        snapshots: {primary_keys: [product_id], scd_type: 2, version_pattern: 'LOAD_(\d+)\.csv'}
  - name: slv_products
    builder:
      layer: SILVER
      drop_source_columns: false
      table_source:
        name: brz_products
        filter: __END_AT IS NULL
        selects: [product_id, name, price, dmsTimestamp]
        snapshots: {primary_keys: [product_id], scd_type: 2, version: arrival}
  - name: brz_orders_web
    builder:
      layer: BRONZE
      event_source: {name: orders, producer: {name: web}, schema_ddl: &orders "id INT, status STRING, op STRING, seq INT"}
  - name: brz_orders_calls
    builder:
      layer: BRONZE
      event_source: {name: orders, producer: {name: calls}, schema_ddl: *orders}
  - name: slv_orders
    builder:
      layer: SILVER
      drop_source_columns: false
      table_sources:
        - {name: brz_orders_web, cdc: &latest {primary_keys: [id], sequence_by: seq, apply_as_deletes: "op = 'D'", except_columns: [op]}}
        - {name: brz_orders_calls, cdc: *latest}
    expectations:  # on both feeds' changes; a delete has no status
      - {name: has_status, expression: status IS NOT NULL, action: WARN}
  - name: slv_orders_history
    builder:
      layer: SILVER
      drop_source_columns: false
      table_sources:
        - {name: brz_orders_web, cdc: &history {primary_keys: [id], sequence_by: seq, scd_type: 2, apply_as_deletes: "op = 'D'", except_columns: [op]}}
        - {name: brz_orders_calls, cdc: *history}
"""

_ORDER_FIELDS = ("id", "status", "op", "seq")
# Update by update: DLT-META's snapshot files, the changes each order feed brings, and the
# tables the update runs (all when empty).
UPDATES: list[dict[str, Any]] = [
    {
        "snapshots": ["stores/LOAD_1.csv", "products/LOAD_1.csv"],
        "web": [(1, "new", "U", 1), (2, "new", "U", 1)],
        "calls": [(1, "paid", "U", 2), (3, "new", "U", 1)],
        "tables": [],
    },
    {
        # Stores' LOAD_2 and LOAD_3 in one update, applied in version order, as DLT applies
        # the snapshots its source function gives until it gives none. Products' LOAD_3
        # never reaches products in DLT-META's job (see the README).
        "snapshots": [
            "incremental_snapshots/stores/LOAD_2.csv",
            "incremental_snapshots/stores/LOAD_3.csv",
            "incremental_snapshots/products/LOAD_2.csv",
        ],
        # Key 3: the web's change is older (seq 0) than the call centre's: it does not win.
        "web": [(1, "shipped", "U", 3), (3, "cancelled", "U", 0)],
        "calls": [(2, None, "D", 2)],
        "tables": [],
    },
    # Nothing new: the snapshot tables (and what they read) run again.
    {"snapshots": [], "web": [], "calls": [], "tables": ["slv_products", "brz_stores_history"]},
]
_READ = {
    "brz_stores": ["store_id", "address"],
    "brz_stores_history": ["store_id", "address", "__START_AT", "__END_AT"],
    "brz_products": ["product_id", "name", "__START_AT", "__END_AT"],
    "slv_products": ["product_id", "name", "__START_AT", "__END_AT"],
    "slv_orders": ["id", "status", "seq"],
    "slv_orders_history": ["id", "status", "__START_AT", "__END_AT"],
}


@pytest.fixture(scope="module")
def updates(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[dict[str, list[tuple[Any, ...]]]]]:
    """The rows of each table after each of the three updates."""
    root = tmp_path_factory.mktemp("retail")
    project = make_project(root / "project", PIPELINE, "pl-retail")
    landing, state = root / "landing", root / "state"
    seen: list[dict[str, list[tuple[Any, ...]]]] = []
    for number, update in enumerate(UPDATES):
        for name in update["snapshots"]:
            folder = landing / SNAPSHOTS / Path(name).parent.name
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(DATA / name, folder / Path(name).name)
        for feed, events in (("web", ORDERS_WEB), ("calls", ORDERS_CALLS)):
            if update[feed]:
                lines = [json.dumps(dict(zip(_ORDER_FIELDS, c, strict=True))) for c in update[feed]]
                land(landing, events, f"{number}.json", lines)
        tables = [option for name in update["tables"] for option in ("--table", name)]
        assert run(project, "pl-retail", landing, state, *tables) == 0
        seen.append(
            {
                table: rows_of(read_table(spark, state, table, "retail"), columns)
                for table, columns in _READ.items()
            }
        )
        rule = run_state(state).tables.get("slv_orders")
        if rule is not None and "has_status" in rule.expectations:
            counted = rule.expectations["has_status"]
            seen[-1]["has_status"] = [(counted.passed_rows, counted.failed_rows)]
    yield seen


def _open(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [row for row in rows if row[-1] is None]


def test_stores_scd1_ends_with_stores_1_and_5(updates: list[dict[str, Any]]) -> None:
    assert [len(update["brz_stores"]) for update in updates] == [4, 2, 2]
    last = updates[-1]["brz_stores"]
    assert [row[0] for row in last] == ["1", "5"]
    assert last[0][1].startswith("v3_6761")


def test_stores_scd2_keeps_eight_versions_two_open(updates: list[dict[str, Any]]) -> None:
    history = updates[-1]["brz_stores_history"]
    assert len(history) == 8
    assert [(row[0], row[2], row[3]) for row in history] == [
        ("1", 1, 2), ("1", 2, 3), ("1", 3, None),
        ("2", 1, 2), ("2", 2, 3),  # missing from LOAD_3: deleted at version 3
        ("3", 1, 2), ("4", 1, 2),  # missing from LOAD_2
        ("5", 3, None),
    ]  # fmt: skip
    assert len(_open(history)) == 2


def test_products_scd2_holds_27_rows(updates: list[dict[str, Any]]) -> None:
    products = updates[1]["brz_products"]
    assert len(products) == 27
    assert len(_open(products)) == 20
    renamed = sorted(int(row[0]) for row in products if row[1].endswith("_v2"))
    assert renamed == [1, 2, 3, 6, 8, 9, 15]


def test_silver_products_keeps_its_history_across_updates(
    updates: list[dict[str, Any]],
) -> None:
    silver = [update["slv_products"] for update in updates]
    assert [len(rows) for rows in silver] == [20, 27, 27]
    assert len(_open(silver[1])) == 20
    # Its versions are its own updates' snapshots: the renamed products' first versions close
    # at the second.
    assert {(row[2], row[3]) for row in silver[1] if row[3] is not None} == {(1, 2)}


def test_an_update_without_a_new_snapshot_changes_nothing(
    updates: list[dict[str, Any]],
) -> None:
    for table in ("brz_products", "slv_products", "brz_stores_history"):
        assert updates[2][table] == updates[1][table], table


def test_the_feeds_expectations_are_counted_on_every_feeds_changes(
    updates: list[dict[str, Any]],
) -> None:
    # After the second update the two feeds hold 7 changes, one a delete without a status.
    assert updates[1]["has_status"] == [(6, 1)]


def test_two_change_feeds_latest_change_per_key_wins(updates: list[dict[str, Any]]) -> None:
    assert updates[0]["slv_orders"] == [(1, "paid", 2), (2, "new", 1), (3, "new", 1)]
    assert updates[-1]["slv_orders"] == [(1, "shipped", 3), (3, "new", 1)]
    assert updates[-1]["slv_orders_history"] == [
        (1, "new", 1, 2), (1, "paid", 2, 3), (1, "shipped", 3, None),
        (2, "new", 1, 2),  # deleted by the call centre's feed
        (3, "cancelled", 0, 1), (3, "new", 1, None),  # the web's late change comes first
    ]  # fmt: skip
