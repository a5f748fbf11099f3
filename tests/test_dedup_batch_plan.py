"""Batch deduplication partitions on the key first: one shuffle and one sort, same rows kept.

`dropDuplicates` alone plans a partial sort aggregation before its exchange and a final one
after, sorting every row twice; `bench/bench_throughput.py`'s silver step spent a third of its
CPU there. A stream keeps `dropDuplicates` as it was (its state has its own distribution).
The batch sort takes the key's fixed-width columns first (`created_at` before `symbol`): a text
first ties on its 8-byte sort prefix for nearly every pair of rows.
"""

from __future__ import annotations

from typing import Any

import pytest

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import process
from laktory_pulumi.runtime.deduplication import reads_batch, sort_friendly_key

COLUMNS = [
    {"name": "symbol", "type": "string", "sql_expression": "data.symbol"},
    {"name": "created_at", "type": "timestamp", "sql_expression": "data.created_at"},
    {"name": "open", "type": "double", "sql_expression": "data.open"},
]


def _silver(read_as_stream: bool, joined_stream: bool | None = None) -> Any:
    silver: dict[str, Any] = {
        "name": "slv_prices",
        "primary_key": ["symbol", "created_at"],
        "builder": {
            "layer": "SILVER",
            "drop_duplicates": True,
            "table_source": {"name": "brz_prices", "read_as_stream": read_as_stream},
        },
        "columns": COLUMNS,
    }
    if joined_stream is not None:
        silver["builder"]["joins"] = [
            {
                "other": {"name": "brz_meta", "read_as_stream": joined_stream},
                "on": ["symbol"],
                "how": "left",
            }
        ]
    bronze = [
        {
            "name": name,
            "builder": {
                "layer": "BRONZE",
                "event_source": {"name": name, "producer": {"name": "p"}},
            },
        }
        for name in ("brz_prices", "brz_meta")
    ]
    pipeline = Pipeline.model_validate({"name": "pl-dedup", "tables": [*bronze, silver]})
    return pipeline.table("slv_prices")


def test_only_a_table_reading_no_stream_is_batch() -> None:
    assert reads_batch(_silver(read_as_stream=False))
    assert not reads_batch(_silver(read_as_stream=True))
    assert reads_batch(_silver(read_as_stream=False, joined_stream=False))


def test_the_batch_sort_takes_the_fixed_width_key_columns_first() -> None:
    table = _silver(read_as_stream=False)
    assert sort_friendly_key(table, ["symbol", "created_at"]) == ["created_at", "symbol"]
    assert sort_friendly_key(table, ["open", "symbol"]) == ["open", "symbol"]
    # A column of unknown type (not declared) stays after, in its place.
    assert sort_friendly_key(table, ["region", "symbol", "created_at"]) == [
        "created_at",
        "region",
        "symbol",
    ]


@pytest.mark.spark
def test_batch_deduplication_sorts_once_and_keeps_one_row_per_key(spark: Any) -> None:
    table = _silver(read_as_stream=False)
    bronze = spark.createDataFrame(
        [("AAPL", "2024-04-10 13:30:00", "1.5"), ("AAPL", "2024-04-10 13:30:00", "1.5"),
         ("AAPL", "2024-04-10 14:30:00", "2.5"), ("MSFT", "2024-04-10 13:30:00", "n/a")],
        "symbol string, created_at string, open string",
    ).selectExpr(
        "named_struct('symbol', symbol, 'created_at', created_at, 'open', open) AS data",
        "CAST(NULL AS STRING) AS _rescued_data",
        "'prices.json' AS _source_file",
        "current_timestamp() AS _bronze_at",
    )  # fmt: skip
    frame = process(table, bronze)
    plan = frame._jdf.queryExecution().executedPlan().toString()
    assert plan.count("Exchange") == 1 and plan.count("Sort [") == 1, plan
    assert "Sort [created_at" in plan, plan
    rows = sorted((row.symbol, str(row.created_at), row.open) for row in frame.collect())
    assert rows == [
        ("AAPL", "2024-04-10 13:30:00", 1.5),
        ("AAPL", "2024-04-10 14:30:00", 2.5),
        ("MSFT", "2024-04-10 13:30:00", None),
    ]
