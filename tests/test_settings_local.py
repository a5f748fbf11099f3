"""Table settings in a local run: properties and partitions applied, a private table kept out of
the catalog, `pipelines.reset.allowed: false` honoured by a full refresh, and the settings only
Databricks applies named once, never claimed.

One small pipeline, run twice in one state folder: the first run lands one file of events; the
file is then removed from the landing folder (as a source's retention would) and a full refresh
runs. The unprotected bronze table is rebuilt from what is left (nothing); the protected one keeps
its rows, as DLT does (Databricks docs, "Pipeline properties reference": `pipelines.reset.allowed`
"controls whether a full refresh is allowed for this table"; SDP's `DatasetManager.
constructFullRefreshSet` refreshes such a table incrementally instead).
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from test_local_support import (
    STOCK_EVENTS,
    land,
    make_project,
    read_table,
    run,
    run_state,
    split_evenly,
    stock_lines,
)

from laktory_pulumi.local.engine import read_record
from laktory_pulumi.local.layout import StateLayout

pytestmark = [pytest.mark.spark]

NAME = "pl-settings"
DATABASE = "governed"

PIPELINE = f"""\
name: {NAME}
target: {DATABASE}
libraries:
  - notebook: {{path: /pipelines/dlt_brz_template.py}}
  - notebook: {{path: /pipelines/dlt_slv_template.py}}
tables:
  - name: brz_prices_kept
    table_properties:
      pipelines.reset.allowed: false
      quality: bronze
    builder:
      layer: BRONZE
      event_source: {{name: stock_price, producer: {{name: yahoo-finance}}}}
  - name: brz_prices
    builder:
      layer: BRONZE
      event_source: {{name: stock_price, producer: {{name: yahoo-finance}}}}
  - name: brz_prices_listed_kept
    table_properties: {{pipelines.reset.allowed: false}}
    builder:
      layer: BRONZE
      event_sources:
        - {{name: stock_price, producer: {{name: yahoo-finance}}}}
  - name: slv_symbols_private
    private: true
    builder:
      layer: SILVER
      table_source: {{name: brz_prices_kept, read_as_stream: false}}
    columns:
      - {{name: symbol, spark_func_name: coalesce, spark_func_args: [data.symbol]}}
  - name: slv_symbols
    partition_cols: [symbol]
    cluster_by_auto: false
    table_properties: {{quality: silver, delta.enableChangeDataFeed: true}}
    builder:
      layer: SILVER
      table_source: {{name: slv_symbols_private, read_as_stream: false}}
      drop_duplicates: true
    primary_key: [symbol]
    columns:
      - {{name: symbol, sql_expression: symbol}}
      - {{name: price, type: double, sql_expression: "1.0"}}
"""


def show_properties(state: Path, table: str) -> dict[str, str]:
    """`SHOW TBLPROPERTIES` of a table of the run's catalog, asked of the run's warm engine (a
    client in a process of its own: the tests' classic session cannot be a Connect client)."""
    record = read_record(StateLayout(state))
    assert record is not None, "the engine of the run is gone"
    script = (
        "import json, sys\n"
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()\n"
        "rows = spark.sql(f'SHOW TBLPROPERTIES {sys.argv[2]}').collect()\n"
        "print(json.dumps({row.key: row.value for row in rows}))\n"
        "spark.stop()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, record.url, table],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def show_tables(state: Path) -> set[str]:
    record = read_record(StateLayout(state))
    assert record is not None
    script = (
        "import sys\n"
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()\n"
        "for row in spark.sql(f'SHOW TABLES IN {sys.argv[2]}').collect():\n"
        "    print(row.tableName)\n"
        "spark.stop()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, record.url, DATABASE],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(done.stdout.split())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("settings")
    project = make_project(root / "project", PIPELINE, NAME)
    landing = root / "landing"
    state = root / "state"
    lines = split_evenly(stock_lines(), 20)[0]
    landed = land(landing, STOCK_EVENTS, "part-0.json", lines)
    first = io.StringIO()
    with contextlib.redirect_stdout(first):
        assert run(project, NAME, landing, state) == 0
    properties = show_properties(state, f"{DATABASE}.slv_symbols")
    listed = show_properties(state, f"{DATABASE}.brz_prices_listed_kept")
    tables = show_tables(state)
    landed.unlink()
    second = io.StringIO()
    with contextlib.redirect_stdout(second):
        assert run(project, NAME, landing, state, "--full-refresh") == 0
    return {
        "state": state,
        "rows": len(lines),
        "first": first.getvalue(),
        "second": second.getvalue(),
        "properties": properties,
        "listed_properties": listed,
        "tables": tables,
    }


def test_table_properties_and_partitions_are_applied(
    spark: SparkSession, runs: dict[str, object]
) -> None:
    properties = runs["properties"]
    assert isinstance(properties, dict)
    assert properties["quality"] == "silver"
    assert properties["delta.enableChangeDataFeed"] == "true"
    # A table of listed sources shows its properties too (locally the union of its flows).
    listed = runs["listed_properties"]
    assert isinstance(listed, dict)
    assert listed["pipelines.reset.allowed"] == "false"
    state = runs["state"]
    assert isinstance(state, Path)
    folder = state / "warehouse" / f"{DATABASE}.db" / "slv_symbols"
    assert sorted(path.name for path in folder.glob("symbol=*")) == [
        "symbol=AAPL",
        "symbol=AMZN",
        "symbol=GOOGL",
        "symbol=MSFT",
    ]


def test_a_private_table_is_read_by_the_pipeline_but_not_published(
    spark: SparkSession, runs: dict[str, object]
) -> None:
    tables = runs["tables"]
    assert isinstance(tables, set)
    assert "slv_symbols" in tables and "brz_prices_kept" in tables
    assert "slv_symbols_private" not in tables


def test_a_full_refresh_keeps_a_table_whose_reset_is_not_allowed(
    spark: SparkSession, runs: dict[str, object]
) -> None:
    state = runs["state"]
    assert isinstance(state, Path)
    kept = read_table(spark, state, "brz_prices_kept", DATABASE)
    assert kept.count() == runs["rows"]
    # The table without the property was rebuilt from the landing folder, now empty.
    assert run_state(state).tables["brz_prices"].rows_total == 0
    kept_state = run_state(state).tables["brz_prices_kept"]
    assert kept_state.rows_total == runs["rows"]
    # Its rows were there before the refresh: the run does not claim it rewrote them.
    assert kept_state.rows_written == 0
    # A table of listed sources keeps its rows too: locally they live in its flows' tables.
    assert run_state(state).tables["brz_prices_listed_kept"].rows_total == runs["rows"]
