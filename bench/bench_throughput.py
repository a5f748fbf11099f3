"""Bronze, silver and gold over a million synthetic stock events, batch, on local[2].

Ours: the stock pipeline's builders (`read_source` and `process` of each table). Baseline:
hand-written PySpark doing the same work: the same reader options (declared schema, rescued
column), the same casts, deduplication and daily aggregation, each layer written to parquet
and read back by the next. Target: ours at most 1.10 times hand-written.

Run: .venv/bin/python bench/bench_throughput.py [--events 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _spark import local_spark
from _timing import machine, paired_median_seconds, report
from generate_events import write_events
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from laktory_pulumi.loader import load_pipeline_file
from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import process, read_source

REPO = Path(__file__).resolve().parent.parent
EVENT_SCHEMA = (
    "data STRUCT<_created_at: STRING, _name: STRING, _producer_name: STRING, close: DOUBLE, "
    "created_at: STRING, high: DOUBLE, low: DOUBLE, open: DOUBLE, symbol: STRING, "
    "volume: DOUBLE>, description STRING, event_root_ STRING, name STRING, "
    "producer STRUCT<description: STRING, name: STRING, party: BIGINT>"
)
SILVER_FIELDS = {
    "created_at": ("_created_at", "timestamp"),
    "symbol": ("symbol", "string"),
    "open": ("open", "double"),
    "close": ("close", "double"),
    "high": ("high", "double"),
    "low": ("low", "double"),
    "volume": ("volume", "double"),
}


def batch_pipeline() -> Pipeline:
    """The stock pipeline of stacks/, read in batch with the events' schema declared."""
    path = REPO / "stacks" / "pipelines" / "pl-stock-prices.yaml"
    variables = {"catalog": "dev", "development": True, "landing_root": "", "min_workers": 1,
                 "max_workers": 2}  # fmt: skip
    data = load_pipeline_file(path, variables).model_dump(exclude_none=True)
    tables = {table["name"]: table for table in data["tables"]}
    bronze, silver = tables["brz_stock_prices"], tables["slv_stock_prices"]
    gold = tables["gld_stock_performances"]
    # The declared schema replaces the YAML's hints (the model refuses both together).
    bronze["builder"]["event_source"].pop("schema_hints", None)
    bronze["builder"]["event_source"].update(read_as_stream=False, schema_ddl=EVENT_SCHEMA)
    silver["builder"]["table_source"]["read_as_stream"] = False
    # The prices' own layers: gold aggregates silver directly, without the silver-star join
    # with the four symbols' metadata (which the synthetic events' symbols mostly lack).
    gold["builder"]["table_source"] = {"name": "slv_stock_prices", "read_as_stream": False}
    gold["builder"]["aggregation"]["groupby_columns"] = ["symbol"]
    gold["builder"]["selects"] = [
        name for name in gold["builder"]["selects"] if name not in ("currency", "exchange")
    ]
    data["tables"] = [bronze, silver, gold]
    return Pipeline.model_validate(data)


def ours(spark: SparkSession, pipeline: Pipeline, out: Path) -> None:
    bronze, silver, gold = pipeline.tables
    process(bronze, read_source(bronze, spark)).write.mode("overwrite").parquet(str(out / "bronze"))
    frame = process(silver, spark.read.parquet(str(out / "bronze")))
    frame.write.mode("overwrite").parquet(str(out / "silver"))
    frame = process(gold, spark.read.parquet(str(out / "silver")))
    frame.write.mode("overwrite").parquet(str(out / "gold"))


def hand_written(spark: SparkSession, events: str, out: Path) -> None:
    raw = (
        spark.read.format("json")
        .options(mode="PERMISSIVE", columnNameOfCorruptRecord="_rescued_data")
        .schema(EVENT_SCHEMA + ", _rescued_data STRING")
        .load(events)
    )
    raw.withColumns({"_bronze_at": F.current_timestamp()}).write.mode("overwrite").parquet(
        str(out / "bronze")
    )
    bronze = spark.read.parquet(str(out / "bronze"))
    columns = [
        F.coalesce(F.col(f"data.{field}")).cast(kind).alias(name)
        for name, (field, kind) in SILVER_FIELDS.items()
    ]
    silver = bronze.select(
        *columns,
        F.col("_bronze_at"),
        F.coalesce(F.col("data._created_at")).cast("timestamp").alias("_tstamp"),
        F.current_timestamp().alias("_silver_at"),
    ).dropDuplicates(["symbol", "created_at"])
    silver.write.mode("overwrite").parquet(str(out / "silver"))
    daily = (
        spark.read.parquet(str(out / "silver"))
        .groupBy("symbol", F.window("created_at", "1 day").alias("w"))
        .agg(
            F.min_by("open", "created_at").alias("open"),
            F.max_by("close", "created_at").alias("close"),
            F.max("high").alias("high"),
            F.min("low").alias("low"),
        )
    )
    gold = daily.select(
        "symbol",
        F.to_date("w.start").alias("day"),
        "open",
        "close",
        "high",
        "low",
        (F.col("close") / F.col("open") - 1).alias("daily_return"),
        F.current_timestamp().alias("_gold_at"),
    )
    gold.write.mode("overwrite").parquet(str(out / "gold"))


def same_gold(spark: SparkSession, first: Path, second: Path) -> bool:
    columns = ["symbol", "day", "open", "close", "high", "low", "daily_return"]
    left = spark.read.parquet(str(first / "gold")).select(*columns)
    right = spark.read.parquet(str(second / "gold")).select(*columns)
    return left.count() == right.count() and left.exceptAll(right).isEmpty()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    spark = local_spark()
    root = Path(tempfile.mkdtemp(prefix="laktory-bench-"))
    try:
        landing = root / "landing"
        events = write_events(spark, landing, args.events, args.files)
        os.environ["LAKTORY_LANDING_ROOT"] = str(landing)
        pipeline = batch_pipeline()
        ours_out, hand_out = root / "ours", root / "hand"
        ours_time, hand_time = paired_median_seconds(
            lambda: ours(spark, pipeline, ours_out),
            lambda: hand_written(spark, str(events), hand_out),
            repeat=args.repeat,
        )
        assert same_gold(spark, ours_out, hand_out), "ours and hand-written gold differ"
        print(f"machine: {machine()}; {args.events:,} events in {args.files} files, batch")
        report("throughput, bronze+silver+gold, ours vs hand-written", ours_time, hand_time, 1.10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
