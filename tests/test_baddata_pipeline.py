"""A poisoned event and a new field, through two local runs of the stock pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from test_local_support import (
    REPO,
    STOCK_DATABASE,
    STOCK_EVENTS,
    land,
    land_stock_metadata,
    read_table,
    run,
    run_state,
    stock_lines,
)

from laktory_pulumi.runtime.expectations import FAILED_EXPECTATIONS_COLUMN

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PIPELINE = "pl-stock-prices"


def test_a_poisoned_event_is_quarantined_with_its_file_and_new_fields_reach_bronze(
    spark: SparkSession, tmp_path: Path
) -> None:
    landing, state = tmp_path / "landing", tmp_path / "state"
    lines = stock_lines()
    poisoned = json.loads(lines[5])
    poisoned["data"]["_created_at"] = "notatime"
    no_symbol = json.loads(lines[6])
    no_symbol["data"]["symbol"] = None
    # Three identical rows without a symbol (one NULL key) and a duplicate of a good row.
    land_stock_metadata(landing)  # the silver-star table joins it
    land(landing, STOCK_EVENTS, "good.json", [*lines[:5], lines[0]])
    land(landing, STOCK_EVENTS, "poison.json", [json.dumps(poisoned), *[json.dumps(no_symbol)] * 3])

    # The silver table goes on: the bad value does not fail the run, its row is quarantined.
    assert run(REPO, PIPELINE, landing, state) == 0
    tables = run_state(state).tables
    assert tables["brz_stock_prices"].rows_total == 10
    silver = tables["slv_stock_prices"]
    assert silver.rows_total == 5  # the duplicate is dropped, after the expectations
    # Every failing row is counted and quarantined: no deduplication merged them first.
    assert silver.quarantined == 4
    assert silver.expectations["known_symbol"].failed_rows == 3
    assert silver.expectations["cast:created_at"].failed_rows == 1
    quarantine = read_table(spark, state, "slv_stock_prices_quarantine", STOCK_DATABASE)
    (row,) = quarantine.where("symbol IS NOT NULL").collect()
    assert row[FAILED_EXPECTATIONS_COLUMN] == ["cast:created_at"]
    assert row._source_file.endswith("/poison.json")
    assert json.loads(row._rescued_data) == {"created_at": "notatime"}
    assert row.symbol == poisoned["data"]["symbol"]

    # A field that first appears in later files appears in bronze on the next run.
    later = [json.loads(line) for line in lines[6:9]]
    for event in later:
        event["data"]["currency"] = "USD"
        event["source"] = "feed"
    land(landing, STOCK_EVENTS, "later.json", [json.dumps(event) for event in later])
    assert run(REPO, PIPELINE, landing, state) == 0
    bronze = read_table(spark, state, "brz_stock_prices", STOCK_DATABASE)
    assert "source" in bronze.columns
    assert bronze.where("source = 'feed' AND data.currency = 'USD'").count() == 3
    assert bronze.count() == 13
    assert run_state(state).tables["slv_stock_prices"].rows_total == 8
