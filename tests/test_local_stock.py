"""`laktory-pulumi demo`, then `run` of pl-stock-prices on the real hourly data: counts,
increments, kills."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
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
from test_settings_local import show_properties

from laktory_pulumi.cli import main

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


@dataclass(frozen=True)
class Demo:
    state: Path
    printed: str
    silver_properties: dict[str, str]
    """`SHOW TBLPROPERTIES` of slv_stock_prices, asked of the run's engine while it is up."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """`laktory-pulumi demo` (the README's first command) on a fresh folder: it lands all the
    real events and the metadata, runs the pipeline once, then prints the offline plan. Its
    state is the one clean run the other tests compare with."""
    root = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", "--workdir", str(root), "--project", str(REPO)]) == 0
    properties = show_properties(root / "state", f"{STOCK_DATABASE}.slv_stock_prices")
    return Demo(state=root / "state", printed=printed.getvalue(), silver_properties=properties)


@pytest.fixture(scope="module")
def one_run(demo: Demo) -> Path:
    """State folder of one run over all the real events landed at once (the demo's)."""
    return demo.state


def test_the_demo_runs_the_stock_pipeline_then_prints_the_plan(demo: Demo) -> None:
    summary_at = demo.printed.index("pl-stock-prices: completed")
    plan_at = demo.printed.index("What `pulumi up --stack dev` would create")
    assert summary_at < plan_at
    # The plan is the dev stack's resource tree, with the pipeline component in it.
    assert "laktory:databricks:Pipeline" in demo.printed[plan_at:]
    assert run_state(demo.state).tables["brz_stock_prices"].rows_written == 7012


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
    # A column's `comment` is in the table's schema, which the catalog shows.
    assert gold.schema["daily_return"].metadata.get("comment") == "Close over open, minus one."

    state = run_state(one_run)
    assert state.status == "COMPLETED"
    assert state.tables["brz_stock_prices"].rows_written == 7012
    assert state.tables["slv_stock_prices"].rows_written == 7012
    assert state.tables["slv_stock_prices"].expectations["known_symbol"].failed_rows == 0
    assert state.tables["slv_stock_prices"].expectations["known_symbol"].passed_rows == 7012
    assert state.tables["gld_stock_performances"].rows_total == len(days)


def test_the_silver_settings_are_applied_or_said_to_be_left_to_databricks(demo: Demo) -> None:
    """Issue 19: the silver table's property is in its catalog entry; its clustering and its
    tags, which only Databricks applies, are named once and never claimed."""
    assert demo.silver_properties["quality"] == "silver"
    notice = (
        "not applied by this local run, only on Databricks: slv_stock_prices (cluster_by, tags)"
    )
    assert demo.printed.count(notice) == 1
    assert demo.printed.count("cluster_by") == 1


def test_files_landed_run_by_run_and_runs_killed_mid_write_give_the_tables_of_one_run(
    spark: SparkSession, tmp_path: Path, ten_files: list[list[str]], one_run: Path
) -> None:
    """Ten files landed over three updates, the last one killed (SIGKILL of the run and its
    Spark processes, like a power cut) while bronze writes, while the engine starts, while
    silver writes, then rerun: every table holds exactly the rows of the one clean run.

    One state folder for both stories, so that the engine starts are paid once each.
    """
    landing, state = tmp_path / "landing", tmp_path / "state"
    land_stock_metadata(landing)
    steps = [range(0, 4), range(4, 7)]
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

    last_rows = 0
    for index in range(7, 10):
        land(landing, STOCK_EVENTS, f"part-{index:02d}.json", ten_files[index])
        last_rows += len(ten_files[index])

    def printed(*words: str):
        return lambda line: all(word in line for word in words)

    # While bronze writes on the warm engine; while the next run starts a new engine (the
    # killed one is gone with its run); while silver writes (bronze may have committed).
    kills = [
        (printed("brz_stock_prices", "running"), 0.8),
        (printed("local Spark engine: starting"), 3.0),
        (printed("slv_stock_prices", "running"), 0.3),
    ]
    for trigger, delay in kills:
        output = kill_run_when(REPO, PIPELINE, landing, state, trigger, delay)
        assert not any("completed in" in line for line in output)

    assert run(REPO, PIPELINE, landing, state) == 0
    report = run_state(state)
    for table in ("brz_stock_prices", "slv_stock_prices"):
        assert report.tables[table].rows_total == expected_total + last_rows == 7012, table
    for table in TABLES:
        incremental = read_table(spark, state, table, STOCK_DATABASE)
        single = read_table(spark, one_run, table, STOCK_DATABASE)
        assert rows_of(incremental, CONTENT[table]) == rows_of(single, CONTENT[table]), table
