"""pl-stock-prices written by hand for Spark Declarative Pipelines: the baseline of
bench_stock_vs_sdp.py. The same four tables as the YAML pipeline (bronze, silver with its
quarantine, gold), the same columns, types, filter, deduplication and daily aggregation,
without laktory-pulumi: no metadata, no expectation counts, no run report.

`spark` is in the globals when SDP imports this file; `landing` comes from the spec.
"""

from pyspark import pipelines as dp
from pyspark.sql import functions as F

LANDING = spark.conf.get("landing")  # noqa: F821 - SDP puts `spark` in the module's globals
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


@dp.materialized_view(name="gld_stock_performances")
def gld_stock_performances():
    silver = spark.read.table("slv_stock_prices")  # noqa: F821
    daily = silver.groupBy("symbol", F.window("created_at", "1 day")).agg(
        F.min_by("open", "created_at").alias("open"),
        F.max_by("close", "created_at").alias("close"),
        F.max("high").alias("high"),
        F.min("low").alias("low"),
    )
    return daily.select(
        "symbol",
        F.to_date("window.start").alias("day"),
        "open",
        "close",
        "high",
        "low",
        (F.col("close") / F.col("open") - 1).alias("daily_return"),
    )
