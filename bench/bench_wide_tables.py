"""A silver table of 300 derived columns from a nested source: build and analyse its plan.

Ours (`TableBuilder.process`, then `df.schema`) against one hand-written `select` of the
same 300 casts plus the same system column, and against a `withColumn` loop. Target: ours at
most 1.2 times the hand-written select.

Run: .venv/bin/python bench/bench_wide_tables.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _spark import local_spark
from _timing import machine, median_seconds, paired_median_seconds, report
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import process

COLUMNS = 300
TYPES = ["double", "string", "bigint", "timestamp", "decimal(18,2)"]


def pipeline() -> Pipeline:
    """bronze -> one silver table with 300 columns, each `coalesce(data.fN)` cast to a type."""
    columns = [
        {
            "name": f"c{index:03d}",
            "type": TYPES[index % len(TYPES)],
            "spark_func_name": "coalesce",
            "spark_func_args": [f"data.f{index}"],
        }
        for index in range(COLUMNS)
    ]
    return Pipeline.model_validate(
        {
            "name": "pl-wide",
            "tables": [
                {
                    "name": "brz_wide",
                    "builder": {
                        "layer": "BRONZE",
                        "event_source": {"name": "wide", "producer": {"name": "bench"}},
                    },
                },
                {
                    "name": "slv_wide",
                    "builder": {"layer": "SILVER", "table_source": {"name": "brz_wide"}},
                    "columns": columns,
                },
            ],
        }
    )


def nested_source(spark) -> DataFrame:
    """Bronze-shaped rows: a `data` struct of 300 fields, the JSON reader's `_rescued_data`,
    the `_source_file` bronze keeps, and `_bronze_at`."""
    fields = [(F.col("id") * index).cast("string").alias(f"f{index}") for index in range(COLUMNS)]
    source = spark.range(1000).select(
        F.struct(*fields).alias("data"),
        F.lit(None).cast("string").alias("_rescued_data"),
        F.lit("part-0.json").alias("_source_file"),
        F.current_timestamp().alias("_bronze_at"),
    )
    source.schema  # noqa: B018 - analysed once, outside the timings
    return source


def hand_written(source: DataFrame) -> DataFrame:
    casts = [
        F.coalesce(F.col(f"data.f{index}")).cast(TYPES[index % len(TYPES)]).alias(f"c{index:03d}")
        for index in range(COLUMNS)
    ]
    return source.select(
        *casts,
        F.col("_rescued_data"),
        F.col("_source_file"),
        F.col("_bronze_at"),
        F.current_timestamp().alias("_silver_at"),
    )


def with_column_loop(source: DataFrame) -> DataFrame:
    frame = source
    for index in range(COLUMNS):
        value = F.coalesce(F.col(f"data.f{index}")).cast(TYPES[index % len(TYPES)])
        frame = frame.withColumn(f"c{index:03d}", value)
    return frame.withColumn("_silver_at", F.current_timestamp()).drop("data")


def main() -> None:
    spark = local_spark()
    table = pipeline().table("slv_wide")
    source = nested_source(spark)
    # The same declared columns; ours also rescues the raw text of a failed cast into
    # `_rescued_data` (runtime/casts.py), which the one select passes through unchanged.
    # Ours writes this projection as SQL text (every column is a `coalesce`), one call.
    declared = [f"c{index:03d}" for index in range(COLUMNS)]
    assert process(table, source).columns[:COLUMNS] == declared
    assert hand_written(source).columns[:COLUMNS] == declared

    # Alternated, so that both see the same machine load.
    ours, select = paired_median_seconds(
        lambda: process(table, source).schema, lambda: hand_written(source).schema, repeat=9
    )
    loop = median_seconds(lambda: with_column_loop(source).schema, repeat=5)
    print(f"machine: {machine()}; {COLUMNS} columns")
    report("wide table, ours vs one select", ours, select, target=1.2)
    report("wide table, withColumn loop vs one select", loop, select)


if __name__ == "__main__":
    main()
