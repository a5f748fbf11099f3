"""A seeded generator of synthetic hourly stock price events, shaped like the real ones.

Writes JSON lines in the landing layout (`<landing>/events/yahoo-finance/stock_price/`),
one file per `files` slice, with Spark itself so a million events take seconds.

Run: .venv/bin/python bench/generate_events.py --events 1000000 --files 8 --landing /tmp/landing
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

SYMBOLS = ["AAPL", "AMZN", "GOOGL", "MSFT", "META", "NVDA", "TSLA", "NFLX"]
EVENTS_SUBDIR = Path("events") / "yahoo-finance" / "stock_price"
FIRST_BAR = "2023-01-03 14:30:00"


def write_events(
    spark: SparkSession, landing: Path, events: int, files: int, seed: int = 7
) -> Path:
    """Write `events` events into `files` JSON files; returns the events folder."""
    symbols = F.array(*(F.lit(symbol) for symbol in SYMBOLS))
    hour = F.col("id") / len(SYMBOLS)
    created = F.to_timestamp(F.lit(FIRST_BAR)) + F.make_interval(hours=hour.cast("int"))
    stamp = F.date_format(created, "yyyy-MM-dd'T'HH:mm:ssXXX")
    base = 100 + (F.col("id") % 997) / 10
    open_ = base + F.rand(seed) * 2
    close = base + F.rand(seed + 1) * 2
    data = F.struct(
        stamp.alias("_created_at"),
        F.lit("stock_price").alias("_name"),
        F.lit("yahoo-finance").alias("_producer_name"),
        close.alias("close"),
        stamp.alias("created_at"),
        (F.greatest(open_, close) + F.rand(seed + 2)).alias("high"),
        (F.least(open_, close) - F.rand(seed + 3)).alias("low"),
        open_.alias("open"),
        F.element_at(symbols, (F.col("id") % len(SYMBOLS) + 1).cast("int")).alias("symbol"),
        F.floor(F.rand(seed + 4) * 1e7).cast("double").alias("volume"),
    )
    producer = F.struct(
        F.lit(None).cast("string").alias("description"),
        F.lit("yahoo-finance").alias("name"),
        F.lit(1).alias("party"),
    )
    frame = spark.range(events, numPartitions=files).select(
        data.alias("data"),
        F.lit(None).cast("string").alias("description"),
        F.lit(None).cast("string").alias("event_root_"),
        F.lit("stock_price").alias("name"),
        producer.alias("producer"),
    )
    folder = landing / EVENTS_SUBDIR
    frame.write.mode("overwrite").json(str(folder))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--landing", type=Path, required=True)
    args = parser.parse_args()
    spark = (
        SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    )
    folder = write_events(spark, args.landing, args.events, args.files)
    print(f"wrote {args.events} events to {folder}")


if __name__ == "__main__":
    main()
