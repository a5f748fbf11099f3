"""A day of the real hourly stock prices in 24 files, one file per kind of problem mixed in
(issue #24, "Done when"): the good rows end in silver exactly once, every bad row in rescue or
quarantine, and a second run adds nothing.

The events are the bundled Yahoo Finance prices (data/stock_prices, from Laktory's quickstart
data, MIT licence): 28 events of 2024-04-10, 4 symbols by 7 hours.
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
    split_evenly,
    stock_lines,
)

from laktory_pulumi.local.engine import stop_engine
from laktory_pulumi.local.layout import StateLayout

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PIPELINE = "pl-stock-prices"
DAY = "2024-04-10"
STREAMING = [
    "brz_stock_prices",
    "slv_stock_prices",
    "slv_stock_prices_quarantine",
    "slv_star_stock_prices",
]


def _event(line: str, **data: object) -> str:
    event = json.loads(line)
    event["data"].update(data)
    return json.dumps(event)


def _key(line: str) -> tuple[str, str]:
    data = json.loads(line)["data"]
    return data["symbol"], data["created_at"]


def test_a_day_in_24_files_with_every_kind_of_problem_ends_with_each_good_row_once(
    spark: SparkSession, tmp_path: Path
) -> None:
    landing, state = tmp_path / "landing", tmp_path / "state"
    day = [line for line in stock_lines() if json.loads(line)["data"]["created_at"][:10] == DAY]
    assert len(day) == 28
    files = split_evenly(day, 24)
    # A fresh deploy: nothing landed yet. The bronze sources hint the columns the pipeline
    # reads (`schema_hints`), so the first update runs and writes empty tables (issue #18, 7).
    landing.mkdir()  # the deploy's landing volume, empty
    assert run(REPO, PIPELINE, landing, state) == 0
    first = run_state(state).tables
    assert first["brz_stock_prices"].rows_total == first["slv_stock_prices"].rows_total == 0
    land_stock_metadata(landing)
    for index, lines in enumerate(files):
        name, folder = f"prices_{index:02}.json", STOCK_EVENTS
        if index == 3:
            name = "prices[03].json"  # case 10: glob characters in the name
        if index == 5:
            folder = STOCK_EVENTS / DAY  # case 17: a dated sub-folder
        if index == 7:
            # Case 6: a field whose case changed.
            lines = [
                json.dumps({**event, "data": {("Close" if k == "close" else k): v for k, v in event["data"].items()}})
                for event in map(json.loads, lines)
            ]  # fmt: skip
        land(landing, folder, name, lines)
    land(landing, STOCK_EVENTS, "prices_09_again.json", files[9])  # re-delivered
    bad_day = "2024-04-10T17:30:00-04:00"
    land(landing, STOCK_EVENTS, "truncated.json", [day[0][:60]])  # case 4
    land(landing, STOCK_EVENTS, "scalar.json", [json.dumps({"data": "oops"})])  # case 8's kind
    land(landing, STOCK_EVENTS, "no_symbol.json", [_event(day[1], symbol=None)])
    wrong = _event(day[2], open="n/a", created_at=bad_day, _created_at=bad_day)
    land(landing, STOCK_EVENTS, "wrong_type.json", [wrong])  # case 9's kind: a type change
    try:
        assert run(REPO, PIPELINE, landing, state) == 0
        tables = run_state(state).tables

        # Bronze: every landed line, the three unreadable ones rescued.
        assert tables["brz_stock_prices"].rows_total == 28 + len(files[9]) + 4
        assert tables["brz_stock_prices"].rescued == 3
        # Silver: each of the day's 28 events exactly once, with its values, and the event
        # whose `open` was text (rescued in bronze, its `open` NULL).
        silver = read_table(spark, state, "slv_stock_prices", STOCK_DATABASE)
        rows = silver.collect()
        keys = [(row.symbol, row.created_at) for row in rows]
        assert len(keys) == len(set(keys)) == 29
        expected = {json.loads(line)["data"]["close"] for line in day}
        assert {row.close for row in rows if row.open is not None} == expected
        (rescued,) = [row for row in rows if row.open is None]
        assert rescued.symbol == json.loads(day[2])["data"]["symbol"]
        # The three events without a symbol are in quarantine, with their files.
        quarantine = read_table(spark, state, "slv_stock_prices_quarantine", STOCK_DATABASE)
        files_of = sorted(row._source_file.rsplit("/", 1)[-1] for row in quarantine.collect())
        assert files_of == ["no_symbol.json", "scalar.json", "truncated.json"]
        assert tables["slv_stock_prices"].quarantined == 3
        assert tables["slv_star_stock_prices"].rows_total == 29

        # A second run adds nothing.
        assert run(REPO, PIPELINE, landing, state) == 0
        again = run_state(state).tables
        for table in STREAMING:
            assert again[table].rows_written == 0, table
            assert again[table].rows_total == tables[table].rows_total, table
    finally:
        stop_engine(StateLayout.at(state))
