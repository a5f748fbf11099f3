"""`laktory-pulumi run` of pl-stock-prices on the real hourly data: counts, increments, kills."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from test_local_support import (
    REPO,
    SILVER_COLUMNS,
    STOCK_DATABASE,
    STOCK_EVENTS,
    kill_run_when,
    land,
    land_stock_metadata,
    read_table,
    rows_of,
    run,
    run_state,
    split_evenly,
    stock_days,
    stock_lines,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PIPELINE = "pl-stock-prices"
TABLES = [
    "brz_stock_prices",
    "slv_stock_prices",
    "brz_stock_metadata",
    "slv_stock_metadata",
    "slv_star_stock_prices",
    "gld_stock_performances",
]
METADATA_COLUMNS = ["currency", "exchange", "first_traded"]
# What each table holds, without the columns stamped at run time (`_bronze_at`, ...).
CONTENT = {
    "brz_stock_prices": ["data", "name", "producer"],
    "slv_stock_prices": list(SILVER_COLUMNS),
    "brz_stock_metadata": ["name", "producer", "data.symbol", "data.currency"],
    "slv_stock_metadata": ["symbol", *METADATA_COLUMNS, "updated_at"],
    "slv_star_stock_prices": [*SILVER_COLUMNS, *METADATA_COLUMNS],
    "gld_stock_performances": [
        "symbol",
        "currency",
        "exchange",
        "day",
        "open",
        "close",
        "high",
        "low",
        "daily_return",
    ],
}


@pytest.fixture(scope="module")
def ten_files() -> list[list[str]]:
    """The real events cut into 10 files' worth of lines."""
    return split_evenly(stock_lines(), 10)


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory, ten_files: list[list[str]]) -> Path:
    """State folder of one run over all 10 files landed at once."""
    root = tmp_path_factory.mktemp("one-run")
    landing = root / "landing"
    land_stock_metadata(landing)
    for index, lines in enumerate(ten_files):
        land(landing, STOCK_EVENTS, f"part-{index:02d}.json", lines)
    assert run(REPO, PIPELINE, landing, root / "state") == 0
    return root / "state"


def test_one_run_over_the_real_data(spark: SparkSession, one_run: Path) -> None:
    lines = stock_lines()
    bronze = read_table(spark, one_run, "brz_stock_prices", STOCK_DATABASE)
    silver = read_table(spark, one_run, "slv_stock_prices", STOCK_DATABASE)
    gold = read_table(spark, one_run, "gld_stock_performances", STOCK_DATABASE)

    assert bronze.count() == len(lines) == 7012
    assert silver.count() == 7012
    types = dict(silver.dtypes)
    assert {name: types.get(name) for name in SILVER_COLUMNS} == SILVER_COLUMNS
    days = {(row.symbol, row.day.isoformat()) for row in gold.select("symbol", "day").collect()}
    assert gold.count() == len(days) == len(stock_days(lines))
    assert days == stock_days(lines)

    # Every price joined with its symbol's metadata (a stream-static join).
    star = read_table(spark, one_run, "slv_star_stock_prices", STOCK_DATABASE)
    assert star.count() == 7012
    joined = {tuple(row) for row in star.select("currency", "exchange").distinct().collect()}
    assert joined == {("USD", "NasdaqGS")}
    assert star.where("first_traded IS NULL").count() == 0
    metadata = read_table(spark, one_run, "slv_stock_metadata", STOCK_DATABASE)
    assert sorted(row.symbol for row in metadata.collect()) == ["AAPL", "AMZN", "GOOGL", "MSFT"]
    assert gold.where("currency = 'USD' AND exchange = 'NasdaqGS'").count() == len(days)

    state = run_state(one_run)
    assert state.status == "COMPLETED"
    assert state.tables["brz_stock_prices"].rows_written == 7012
    assert state.tables["slv_stock_prices"].rows_written == 7012
    assert state.tables["slv_stock_prices"].expectations["known_symbol"].failed_rows == 0
    assert state.tables["slv_stock_prices"].expectations["known_symbol"].passed_rows == 7012
    assert state.tables["gld_stock_performances"].rows_total == len(days)


def test_files_landed_run_by_run_give_the_tables_of_one_run(
    spark: SparkSession, tmp_path: Path, ten_files: list[list[str]], one_run: Path
) -> None:
    landing, state = tmp_path / "landing", tmp_path / "state"
    land_stock_metadata(landing)
    # Three runs instead of ten keep the suite within budget; each still sees only new files.
    steps = [range(0, 4), range(4, 7), range(7, 10)]
    expected_total = 0
    for step, indexes in enumerate(steps):
        new_rows = 0
        for index in indexes:
            land(landing, STOCK_EVENTS, f"part-{index:02d}.json", ten_files[index])
            new_rows += len(ten_files[index])
        expected_total += new_rows
        # The first step also checks --table: silver and what it reads, gold left out.
        extra = ["--table", "slv_stock_prices"] if step == 0 else []
        assert run(REPO, PIPELINE, landing, state, *extra) == 0
        report = run_state(state)
        for table in ("brz_stock_prices", "slv_stock_prices"):
            assert report.tables[table].rows_written == new_rows, (step, table)
            assert report.tables[table].rows_total == expected_total, (step, table)
        assert ("gld_stock_performances" in report.tables) == (step > 0)

    for table in TABLES:
        incremental = read_table(spark, state, table, STOCK_DATABASE)
        single = read_table(spark, one_run, table, STOCK_DATABASE)
        assert rows_of(incremental, CONTENT[table]) == rows_of(single, CONTENT[table]), table


def test_runs_killed_at_any_point_then_rerun_hold_the_rows_of_one_clean_run(
    spark: SparkSession, tmp_path: Path, one_run: Path
) -> None:
    landing, state = tmp_path / "landing", tmp_path / "state"
    shutil.copytree(one_run.parent / "landing", landing)

    def printed(*words: str):
        return lambda line: all(word in line for word in words)

    # While Spark starts, while bronze writes, while silver writes.
    kills = [
        (printed("running", PIPELINE), 7.0),
        (printed("brz_stock_prices", "running"), 0.8),
        (printed("slv_stock_prices", "running"), 0.3),
    ]
    for trigger, delay in kills:
        output = kill_run_when(REPO, PIPELINE, landing, state, trigger, delay)
        assert not any("completed in" in line for line in output)

    assert run(REPO, PIPELINE, landing, state) == 0
    for table in TABLES:
        rerun = read_table(spark, state, table, STOCK_DATABASE)
        clean = read_table(spark, one_run, table, STOCK_DATABASE)
        assert rows_of(rerun, CONTENT[table]) == rows_of(clean, CONTENT[table]), table
