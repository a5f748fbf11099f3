"""pl-stock-prices written by hand for Spark Declarative Pipelines: the baseline of
bench_stock_vs_sdp.py. The same seven datasets as the YAML pipeline (prices and metadata in
bronze and silver, the prices' quarantine, the silver-star join of prices with their symbol's
metadata, the daily gold), the same columns, types, filters, deduplication, latest-row window
filter, join and aggregation, without laktory-pulumi: no metadata file, no expectation counts,
no run report.

`spark` is in the globals when SDP imports this file; `landing` and `metadata_landing` come
from the spec.
"""

from pyspark import pipelines as dp
from pyspark.sql import functions as F

LANDING = spark.conf.get("landing")  # noqa: F821 - SDP puts `spark` in the module's globals
METADATA_LANDING = spark.conf.get("metadata_landing")  # noqa: F821
METADATA_SCHEMA = (
    "data STRUCT<_created_at: STRING, symbol: STRING, currency: STRING, "
    "fullExchangeName: STRING, firstTradeDate: BIGINT>, name STRING, "
    "producer STRUCT<name: STRING>"
)
EVENT_SCHEMA = (
    "data STRUCT<_created_at: STRING, _name: STRING, _producer_name: STRING, "
    "created_at: STRING, symbol: STRING, open: DOUBLE, close: DOUBLE, high: DOUBLE, "
    "low: DOUBLE, volume: DOUBLE>, name STRING, "
    "producer STRUCT<name: STRING, party: BIGINT, description: STRING>"
)
SILVER = [
    F.col("data._created_at").cast("timestamp").alias("created_at"),
    F.col("data.symbol").cast("string").alias("symbol"),
    *(F.col(f"data.{name}").cast("double").alias(name) for name in ("open", "close")),
    *(F.col(f"data.{name}").cast("double").alias(name) for name in ("high", "low", "volume")),
]


@dp.table(name="brz_stock_prices")
def brz_stock_prices():
    events = spark.readStream.schema(EVENT_SCHEMA).json(LANDING)  # noqa: F821
    return events.select("*", F.current_timestamp().alias("_bronze_at"))


def _silver_rows():
    bronze = spark.readStream.table("brz_stock_prices")  # noqa: F821
    return bronze.select(*SILVER, F.current_timestamp().alias("_silver_at"))


@dp.table(name="slv_stock_prices")
def slv_stock_prices():
    rows = _silver_rows().where("symbol IS NOT NULL")
    return rows.dropDuplicates(["symbol", "created_at"])


@dp.table(name="slv_stock_prices_quarantine")
def slv_stock_prices_quarantine():
    return _silver_rows().where("NOT (symbol IS NOT NULL)")


@dp.table(name="brz_stock_metadata")
def brz_stock_metadata():
    events = spark.readStream.schema(METADATA_SCHEMA).json(METADATA_LANDING)  # noqa: F821
    return events.select("*", F.current_timestamp().alias("_bronze_at"))


@dp.materialized_view(name="slv_stock_metadata")
def slv_stock_metadata():
    bronze = spark.read.table("brz_stock_metadata")  # noqa: F821
    rows = bronze.select(
        F.col("data.symbol").alias("symbol"),
        F.col("data.currency").alias("currency"),
        F.col("data.fullExchangeName").alias("exchange"),
        F.timestamp_seconds("data.firstTradeDate").alias("first_traded"),
        F.col("data._created_at").cast("timestamp").alias("updated_at"),
        F.current_timestamp().alias("_silver_at"),
    ).where("symbol IS NOT NULL")
    # SQL expressions only: `withColumn`/`drop` would ask the server for the schema while SDP
    # registers the flow, before the tables it reads exist.
    ranked = rows.selectExpr(
        "*", "row_number() OVER (PARTITION BY symbol ORDER BY updated_at DESC) AS _row"
    )
    return ranked.where("_row = 1").selectExpr("* EXCEPT (_row)")


@dp.table(name="slv_star_stock_prices")
def slv_star_stock_prices():
    prices = spark.readStream.table("slv_stock_prices")  # noqa: F821
    metadata = spark.read.table("slv_stock_metadata").select(  # noqa: F821
        "symbol", "currency", "exchange", "first_traded"
    )
    joined = prices.join(metadata, on="symbol", how="left")
    return joined.select("*", F.current_timestamp().alias("_silver_star_at"))


@dp.materialized_view(name="gld_stock_performances")
def gld_stock_performances():
    silver = spark.read.table("slv_star_stock_prices")  # noqa: F821
    daily = silver.groupBy("symbol", "currency", "exchange", F.window("created_at", "1 day")).agg(
        F.min_by("open", "created_at").alias("open"),
        F.max_by("close", "created_at").alias("close"),
        F.max("high").alias("high"),
        F.min("low").alias("low"),
    )
    return daily.select(
        "symbol",
        "currency",
        "exchange",
        F.to_date("window.start").alias("day"),
        "open",
        "close",
        "high",
        "low",
        (F.col("close") / F.col("open") - 1).alias("daily_return"),
    )
