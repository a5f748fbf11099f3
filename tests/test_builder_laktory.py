"""A Laktory v0.0.22 pipeline file, written by hand from that version's docs, run locally.

The tables come from Laktory's docs (`docs/concepts/tablebuilder.md`: joins, aggregations, the
window filter; `docs/concepts/table.md`: static `data` rows) and its test tables
(`laktory/_testing/stockprices.py`: the silver-star table joining metadata and names, the gold
table with `joins_post_aggregation`, `drop_columns` and `template`), with Laktory's spellings:
`layer: SILVER_STAR`, `groupby_window`, `agg_expressions`, `on:`, columns without a type.
The source, table and column fields come from `laktory/models/datasources/*.py`,
`dataeventheader.py`, `producer.py`, `sql/table.py` and `sql/column.py` at tag v0.0.22, written
as Laktory's own tests wrote them (`tests/test_pipeline.py`: `{value, is_column, to_lit}`
arguments, `spark_func_kwargs: {}`): the event source's `type`, `fmt`, `multiline`, `header`,
`read_options`, `description` and `producer` (`description`, `party`); a CSV listing read with
its header; the table source's `schema_name` and `from_pipeline`; the table's `schema_name` and
`grants: null`; the columns' `pii`, `unit` and `comment`; the pipeline's `udfs` (a module of
the project) and `${var.NAME}`. Fields that cannot have their meaning here fail validation
(`tests/test_laktory_fields.py`), and so are not in this file.

One `laktory-pulumi run` on SDP builds every table; each is compared with what plain PySpark
computes from the same event lines.
"""

from __future__ import annotations

import json
import shutil
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
from laktory_pulumi.models import LitArg, SqlArg

pytestmark = [pytest.mark.slow, pytest.mark.spark]

NAME = "pl-laktory"
DATABASE = "markets"
LINES = 240  # 60 hourly bars of each of the four symbols

PIPELINE = f"""\
name: {NAME}
target: {DATABASE}
allow_duplicate_names: False
udfs:
  - module_name: stock_functions
    function_name: mid_price
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
    comment: Stock prices of the ${{var.catalog}} catalog's symbols
    schema_name: {DATABASE}
    grants: null
    builder:
      layer: BRONZE
      event_source:
        name: stock_price
        description: Hourly bars of each symbol
        producer:
          name: yahoo-finance
          description: Yahoo Finance
          party: 3
        type: STORAGE_EVENTS
        fmt: JSON
        multiline: False
        header: True
        read_options: {{}}
        read_as_stream: True

  - name: brz_stock_listing
    builder:
      layer: BRONZE
      event_source:
        name: stock_listing
        producer:
          name: nasdaq
        fmt: CSV
        header: True
        read_as_stream: True

  - name: slv_stock_prices
    timestamp_key: created_at
    builder:
      layer: SILVER
      pipeline_name: {NAME}
      table_source:
        name: brz_stock_prices
        schema_name: {DATABASE}
        from_pipeline: True
        read_as_stream: True
    columns:
      - name: created_at
        type: timestamp
        spark_func_name: coalesce
        spark_func_args:
          - value: data._created_at
            is_column: True
            to_lit: False
        spark_func_kwargs: {{}}
      - name: symbol
        pii: False
        spark_func_name: coalesce
        spark_func_args:
          - data.symbol
      - name: open
        type: double
        unit: USD
        comment: Price at the opening of the hour
        spark_func_name: coalesce
        spark_func_args:
          - value: data.open
            is_column: True
            to_lit: False
      - name: close
        type: double
        sql_expression: data.close
      - name: mid
        type: double
        spark_func_name: mid_price
        spark_func_args:
          - data.open
          - data.close
      - name: open_cents
        type: double
        spark_func_name: round
        spark_func_args:
          - value: data.open * 100
            is_column: False
        spark_func_kwargs:
          scale:
            value: 0
            to_lit: True

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


UDFS = """\
def mid_price(open, close):
    # A Laktory v0.0.22 UDF: Columns in, a Column out.
    return (open + close) / 2
"""

LISTING_EVENTS = Path("events") / "nasdaq" / "stock_listing"
LISTING = ["symbol,name,exchange", "AAPL,Apple,NASDAQ", "MSFT,Microsoft,NASDAQ"]


def _project(root: Path) -> Path:
    """The test project, its notebooks a copy of the repository's plus the UDF module."""
    project = make_project(root / "project", PIPELINE, NAME)
    notebooks = project / "notebooks"
    source = notebooks.resolve()
    notebooks.unlink()
    shutil.copytree(source, notebooks)
    (notebooks / "stock_functions.py").write_text(UDFS)
    return project


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("laktory")
    project = _project(root)
    land(root / "landing", STOCK_EVENTS, "prices.json", stock_lines()[:LINES])
    land(root / "landing", LISTING_EVENTS, "listing.csv", LISTING)
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
    project = _project(tmp_path)
    path = project / "stacks" / "pipelines" / f"{NAME}.yaml"
    pipeline = load_pipeline_file(path, {"catalog": "dev"}, notebooks_dir=project / "notebooks")
    assert [table.builder.notebook for table in pipeline.tables] == [
        *["dlt_brz_template"] * 2,
        *["dlt_slv_template"] * 4,
        *["dlt_slv_star_template"] * 2,
        *["dlt_gld_template"] * 2,
    ]
    bronze = pipeline.table("brz_stock_prices")
    assert bronze.comment == "Stock prices of the dev catalog's symbols"  # ${var.catalog}
    events = bronze.builder.event_source
    assert events is not None and events.producer.party == 3
    assert events.spark_options == {"multiLine": "false", "header": "true"}
    listing = pipeline.table("brz_stock_listing").builder.event_source
    assert listing is not None and listing.format == "CSV"
    created_at, symbol, *_ = pipeline.table("slv_stock_prices").columns
    assert created_at.spark_func_args == [SqlArg(sql="data._created_at")]
    assert symbol.pii is False
    open_cents = pipeline.table("slv_stock_prices").columns[-1]
    assert open_cents.spark_func_kwargs == {"scale": LitArg(lit=0)}


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

    # Laktory's fields at work: the CSV listing read with its header, the UDF's mid price,
    # `{value, is_column}` and `{value, to_lit}` arguments (round(open * 100, 0)).
    listing = read_table(spark, one_run, "brz_stock_listing", DATABASE)
    assert rows_of(listing, ["symbol", "name", "exchange"]) == [
        ("AAPL", "Apple", "NASDAQ"),
        ("MSFT", "Microsoft", "NASDAQ"),
    ]
    prices = read_table(spark, one_run, "slv_stock_prices", DATABASE)
    expected_prices = silver.select(
        "created_at",
        "symbol",
        ((F.col("open") + F.col("close")) / 2).alias("mid"),
        F.round(F.col("open") * 100, 0).alias("open_cents"),
    )
    assert rows_of(prices, expected_prices.columns) == rows_of(
        expected_prices, expected_prices.columns
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
