"""Expectations, quarantine, rescued data and full refresh in local runs, on small data."""

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


def test_bad_rows_are_quarantined_or_rescued_and_counted(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing, state = tmp_path / "landing", tmp_path / "state"
    good = stock_lines()[:5]
    land_stock_metadata(landing)
    land(landing, STOCK_EVENTS, "good.json", good)
    assert run(REPO, PIPELINE, landing, state) == 0

    bad = [
        _event(None, "2024-05-01T10:30:00-04:00", 1.0, 2.0),  # fails known_symbol (DROP)
        '{"data": {"symbol": "AAPL", "open": 1.0',  # malformed JSON line
        _event("MSFT", "2024-05-01T11:30:00-04:00", "not a number", 3.0),  # wrong type
    ]
    land(landing, STOCK_EVENTS, "bad.json", bad)
    capsys.readouterr()
    assert run(REPO, PIPELINE, landing, state) == 0
    printed = capsys.readouterr().out

    report = run_state(state)
    bronze, silver = report.tables["brz_stock_prices"], report.tables["slv_stock_prices"]
    # Nothing is lost: every landed line is a bronze row; bad records are rescued, and the rows
    # without a symbol go to quarantine with the name of the rule they failed.
    assert bronze.rows_written == 3 and bronze.rows_total == 8
    assert bronze.rescued == 2
    assert silver.rows_written == 1 and silver.rows_total == 6
    assert silver.quarantined == 2
    assert silver.expectations["known_symbol"].failed_rows == 2
    assert silver.expectations["known_symbol"].passed_rows == 1
    assert silver.expectations["positive_prices"].failed_rows >= 1
    quarantine = read_table(spark, state, "slv_stock_prices_quarantine", STOCK_DATABASE)
    assert quarantine.count() == 2
    failed_names = [
        value
        for row in quarantine.collect()
        for value in row.asDict().values()
        if value == ["known_symbol"]
    ]
    assert len(failed_names) == 2
    assert "known_symbol (DROP): 1 passed, 2 dropped" in printed

    # A full refresh rebuilds every table from all landed files: same tables, all rows new.
    assert run(REPO, PIPELINE, landing, state, "--full-refresh") == 0
    refreshed = run_state(state)
    assert refreshed.tables["brz_stock_prices"].rows_written == 8
    assert refreshed.tables["slv_stock_prices"].rows_total == 6
    assert refreshed.tables["slv_stock_prices_quarantine"].rows_total == 2
