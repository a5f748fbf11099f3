"""Bad data through three local runs of the stock pipeline: a poisoned event, rows failing an
expectation, a malformed line, a wrong type, a new field, then a full refresh. Nothing blocks a
table, nothing is lost, and every count is exact.

One scenario, so that the engine start and the runs are paid once for all of it.
"""

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


def _event(symbol: str | None, created_at: str, open_: object, close: float) -> str:
    data = {
        "_created_at": created_at,
        "created_at": created_at,
        "symbol": symbol,
        "open": open_,
        "close": close,
        "high": close,
        "low": close,
        "volume": 1.0,
    }
    return json.dumps({"data": data, "name": "stock_price", "producer": {"name": "yahoo-finance"}})


def test_bad_data_never_blocks_a_table_is_never_lost_and_is_counted_exactly(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
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

    # Run 1. The silver table goes on: the bad value does not fail the run, its row is
    # quarantined with the cast that failed and its file.
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

    # Run 2. A row without a symbol, a malformed line and a wrong type; and a field that first
    # appears in later files, which must reach bronze rather than be dropped by the kept schema.
    land(
        landing,
        STOCK_EVENTS,
        "bad.json",
        [
            _event(None, "2024-05-01T10:30:00-04:00", 1.0, 2.0),  # fails known_symbol (DROP)
            '{"data": {"symbol": "AAPL", "open": 1.0',  # malformed JSON line
            _event("MSFT", "2024-05-01T11:30:00-04:00", "not a number", 3.0),  # wrong type
        ],
    )
    later = [json.loads(line) for line in lines[6:9]]
    for event in later:
        event["data"]["currency"] = "USD"
        event["source"] = "feed"
    land(landing, STOCK_EVENTS, "later.json", [json.dumps(event) for event in later])
    capsys.readouterr()
    assert run(REPO, PIPELINE, landing, state) == 0
    printed = capsys.readouterr().out

    report = run_state(state)
    bronze, silver = report.tables["brz_stock_prices"], report.tables["slv_stock_prices"]
    # Nothing is lost: every landed line is a bronze row, the bad records rescued; the rows
    # without a symbol go to quarantine with the name of the rule they failed.
    assert bronze.rows_written == 6 and bronze.rows_total == 16
    assert bronze.rescued == 2
    assert silver.rows_written == 4 and silver.rows_total == 9
    assert silver.quarantined == 2
    assert silver.expectations["known_symbol"].failed_rows == 2
    assert silver.expectations["known_symbol"].passed_rows == 4
    assert silver.expectations["positive_prices"].failed_rows >= 1
    assert "known_symbol (DROP): 4 passed, 2 dropped" in printed
    quarantine = read_table(spark, state, "slv_stock_prices_quarantine", STOCK_DATABASE)
    assert quarantine.count() == 6
    failed_rules = [row[FAILED_EXPECTATIONS_COLUMN] for row in quarantine.collect()]
    assert failed_rules.count(["known_symbol"]) == 5
    bronze_rows = read_table(spark, state, "brz_stock_prices", STOCK_DATABASE)
    assert "source" in bronze_rows.columns
    assert bronze_rows.where("source = 'feed' AND data.currency = 'USD'").count() == 3

    # Run 3. A full refresh rebuilds every table from all landed files: same tables, all rows
    # new.
    assert run(REPO, PIPELINE, landing, state, "--full-refresh") == 0
    refreshed = run_state(state)
    assert refreshed.tables["brz_stock_prices"].rows_written == 16
    assert refreshed.tables["slv_stock_prices"].rows_total == 9
    assert refreshed.tables["slv_stock_prices_quarantine"].rows_total == 6
