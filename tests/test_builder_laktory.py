"""A Laktory v0.0.22 pipeline file, written by hand from that version's docs, run locally.

The tables come from Laktory's docs (`docs/concepts/tablebuilder.md`: joins, aggregations, the
window filter; `docs/concepts/table.md`: static `data` rows) and its test tables
(`laktory/_testing/stockprices.py`: the silver-star table joining metadata and names, the gold
table with `joins_post_aggregation`, `drop_columns` and `template`), with Laktory's spellings:
`layer: SILVER_STAR`, `groupby_window`, `agg_expressions`, `on:`, columns without a type.
Fields another engineer owns are left out (pipeline `udfs`, `${var.NAME}`; the data sources'
`fmt`, `multiline`, `catalog_name`, `from_pipeline`).

One `laktory-pulumi run` on SDP builds every table; each is compared with what plain PySpark
computes from the same event lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from test_local_support import (
    STOCK_EVENTS,
    land,
    make_project,
    read_table,
    rows_of,
    run,
    run_state,
    stock_lines,
)

from laktory_pulumi.loader import load_pipeline_file

pytestmark = [pytest.mark.slow, pytest.mark.spark]

NAME = "pl-laktory"
DATABASE = "markets"
LINES = 240  # 60 hourly bars of each of the four symbols

PIPELINE = f"""\
name: {NAME}
target: {DATABASE}
libraries:
  - notebook:
      path: /pipelines/dlt_brz_template.py
  - notebook:
      path: /pipelines/dlt_slv_template.py
  - notebook:
      path: /pipelines/dlt_slv_star_template.py
  - notebook:
      path: /pipelines/dlt_gld_template.py

tables:
  - name: brz_stock_prices
    timestamp_key: data.created_at
    builder:
      layer: BRONZE
      event_source:
        name: stock_price
        producer:
          name: yahoo-finance
        read_as_stream: True

  - name: slv_stock_prices
    timestamp_key: created_at
    builder:
      layer: SILVER
      pipeline_name: {NAME}
      table_source:
        name: brz_stock_prices
        read_as_stream: True
    columns:
      - name: created_at
        type: timestamp
        spark_func_name: coalesce
        spark_func_args:
          - data._created_at
      - name: symbol
        spark_func_name: coalesce
        spark_func_args:
          - data.symbol
      - name: open
        type: double
        spark_func_name: coalesce
        spark_func_args:
          - data.open
      - name: close
        type: double
        sql_expression: data.close

  - name: slv_stock_volumes
    builder:
      layer: SILVER
      table_source:
        name: brz_stock_prices
        read_as_stream: True
    columns:
      - name: created_at
        type: timestamp
        sql_expression: data._created_at
      - name: symbol
        sql_expression: data.symbol
      - name: volume
        type: double
        sql_expression: data.volume

  - name: slv_stock_metadata
    builder:
      layer: SILVER
    columns:
      - name: symbol2
      - name: currency
      - name: first_traded
    data:
      - [AAPL, USD, "1980-12-12T14:30:00.000Z"]
      - [GOOGL, USD, "2004-08-19T13:30:00.00Z"]
      - [AMZN, USD, "1997-05-15T13:30:00.000Z"]

  - name: slv_stock_names
    builder:
      layer: SILVER
    columns:
      - name: symbol3
      - name: name
    data:
      - [AAPL, Apple]
      - [GOOGL, Google]
      - [AMZN, Amazon]

  - name: slv_star_stock_prices
    builder:
      layer: SILVER_STAR
      table_source:
        name: slv_stock_prices
        read_as_stream: True
      joins:
        - other:
            name: slv_stock_metadata
            read_as_stream: False
            selects:
              symbol2: symbol
              currency: currency
              first_traded: last_traded
          on:
            - symbol
        - other:
            name: slv_stock_names
            read_as_stream: False
            selects:
              - symbol3
              - name
          on:
            - symbol3
    columns:
      - name: symbol3
        spark_func_name: coalesce
        spark_func_args:
          - symbol

  - name: slv_star_stock_volumes
    builder:
      layer: SILVER_STAR
      table_source:
        name: slv_stock_prices
        read_as_stream: True
        watermark:
          column: created_at
          threshold: 1 hour
      joins:
        - other:
            name: slv_stock_volumes
            read_as_stream: True
            watermark:
              column: created_at
              threshold: 1 hour
          on: [symbol, created_at]
          how: inner
          time_constraint_interval_lower: 0 seconds
      selects: [symbol, created_at, close, volume]

  - name: gld_stock_prices
    builder:
      layer: GOLD
      template: GOLD
      table_source:
        name: slv_star_stock_prices
        read_as_stream: False
      aggregation:
        groupby_columns:
          - symbol
        groupby_window:
          time_column: created_at
          window_duration: 1 day
        agg_expressions:
          - name: rows_count
            spark_func_name: count
            spark_func_args:
              - symbol
          - name: low
            spark_func_name: min
            spark_func_args:
              - open
          - name: max_close
            sql_expression: max(close)
      joins_post_aggregation:
        - other:
            name: slv_stock_names
            read_as_stream: False
            selects:
              symbol3: symbol
              name: name
          on:
            - symbol
      drop_columns:
        - max_close

  - name: gld_stock_price_performances
    builder:
      layer: GOLD
      table_source:
        name: slv_star_stock_prices
        read_as_stream: False
      window_filter:
        partition_by:
          - symbol
        order_by:
          - sql_expression: created_at
            desc: True
        rows_to_keep: 2
"""


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("laktory")
    project = make_project(root / "project", PIPELINE, NAME)
    land(root / "landing", STOCK_EVENTS, "prices.json", stock_lines()[:LINES])
    assert run(project, NAME, root / "landing", root / "state") == 0
    return root / "state"


def _silver(spark: SparkSession) -> DataFrame:
    """slv_stock_prices computed with plain PySpark from the same lines."""
    events = [json.loads(line)["data"] for line in stock_lines()[:LINES]]
    rows = [(e["_created_at"], e["symbol"], e["open"], e["close"], e["volume"]) for e in events]
    frame = spark.createDataFrame(
        rows, "created_at string, symbol string, open double, close double, volume double"
    )
    return frame.withColumn("created_at", F.col("created_at").cast("timestamp"))


def _static(spark: SparkSession, rows: list[list[Any]], columns: str) -> DataFrame:
    return spark.createDataFrame([tuple(row) for row in rows], columns)


def test_the_file_validates_as_written(tmp_path: Path) -> None:
    path = tmp_path / f"{NAME}.yaml"
    path.write_text(PIPELINE)
    pipeline = load_pipeline_file(path, {})
    assert [table.builder.notebook for table in pipeline.tables] == [
        "dlt_brz_template",
        *["dlt_slv_template"] * 4,
        *["dlt_slv_star_template"] * 2,
        *["dlt_gld_template"] * 2,
    ]


def test_joined_window_filtered_and_aggregated_tables_equal_plain_pyspark(
    spark: SparkSession, one_run: Path
) -> None:
    assert run_state(one_run).status == "COMPLETED"
    silver = _silver(spark)
    metadata = _static(
        spark,
        [
            ["AAPL", "USD", "1980-12-12T14:30:00.000Z"],
            ["GOOGL", "USD", "2004-08-19T13:30:00.00Z"],
            ["AMZN", "USD", "1997-05-15T13:30:00.000Z"],
        ],
        "symbol string, currency string, last_traded string",
    )
    names = _static(
        spark,
        [["AAPL", "Apple"], ["GOOGL", "Google"], ["AMZN", "Amazon"]],
        "symbol3 string, name string",
    )

    # Silver-star: the prices, left-joined with the metadata, then with the names (on a column
    # the table builds from `symbol` before that join). MSFT has neither.
    star = read_table(spark, one_run, "slv_star_stock_prices", DATABASE)
    expected_star = (
        silver.withColumn("symbol3", F.col("symbol"))
        .join(metadata, on="symbol", how="left")
        .join(names, on="symbol3", how="left")
    )
    columns = [
        "created_at",
        "symbol",
        "open",
        "close",
        "symbol3",
        "currency",
        "last_traded",
        "name",
    ]
    assert rows_of(star, columns) == rows_of(expected_star, columns)
    assert {"_silver_at", "_silver_star_at"} <= set(star.columns)
    assert star.count() == LINES

    # Stream-stream join: every price meets its own volume (same symbol and time).
    volumes = read_table(spark, one_run, "slv_star_stock_volumes", DATABASE)
    assert volumes.columns == ["symbol", "created_at", "close", "volume", "_silver_star_at"]
    expected_volumes = silver.select("symbol", "created_at", "close", "volume")
    assert rows_of(volumes, expected_volumes.columns) == rows_of(
        expected_volumes, expected_volumes.columns
    )

    # Gold: daily aggregates per symbol, the names joined after, max_close dropped.
    gold = read_table(spark, one_run, "gld_stock_prices", DATABASE)
    expected_gold = (
        expected_star.groupBy("symbol", F.window("created_at", "1 day"))
        .agg(F.count("symbol").alias("rows_count"), F.min("open").alias("low"))
        .join(names.withColumnRenamed("symbol3", "symbol"), on="symbol", how="left")
        .select("symbol", F.col("window.start").alias("window_start"), "rows_count", "low", "name")
    )
    assert "max_close" not in gold.columns
    assert rows_of(gold, expected_gold.columns) == rows_of(expected_gold, expected_gold.columns)

    # Window filter: the two latest rows of each symbol.
    latest = read_table(spark, one_run, "gld_stock_price_performances", DATABASE)
    ranked = expected_star.withColumn(
        "n", F.row_number().over(Window.partitionBy("symbol").orderBy(F.desc("created_at")))
    )
    expected_latest = ranked.where("n <= 2")
    assert "_row_index" not in latest.columns
    assert rows_of(latest, columns) == rows_of(expected_latest, columns)
    assert latest.count() == 8
