"""A silver table of several sources (`table_sources`) keeps its rows' lineage: `_bronze_at`, and
`_source_file` when every source gives it (landed files do, a Kafka stream's records come from
no file). Each flow of such a table is built by `process` from its own source's rows, so the
projection is checked on frames shaped as each bronze table writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import process

pytestmark = pytest.mark.spark

QUOTE = "symbol STRING, price STRING"
KAFKA = {"bootstrap_servers": "broker:9092", "topics": ["quotes"]}
COLUMNS = [
    {"name": "symbol", "type": "string", "spark_func_name": "upper", "spark_func_args": ["symbol"]},
    {
        "name": "price",
        "type": "double",
        "spark_func_name": "coalesce",
        "spark_func_args": ["price"],
    },
]


def bronze(name: str, producer: str, **source: Any) -> dict[str, Any]:
    event = {"name": "quote", "producer": {"name": producer}, **source}
    return {"name": name, "builder": {"layer": "BRONZE", "event_source": event}}


def silver(name: str, *sources: str) -> dict[str, Any]:
    return {
        "name": name,
        "builder": {"layer": "SILVER", "table_sources": [{"name": s} for s in sources]},
        "columns": COLUMNS,
    }


PIPELINE = Pipeline.model_validate(
    {
        "name": "pl-lineage",
        "tables": [
            bronze("brz_a", "venue_a"),
            bronze("brz_b", "venue_b"),
            bronze("brz_k", "venue_k", type="STREAM_KAFKA", kafka=KAFKA, schema_ddl=QUOTE),
            silver("slv_landed", "brz_a", "brz_b"),
            silver("slv_mixed", "brz_a", "brz_k"),
        ],
    }
)
BRONZE_AT = datetime(2026, 12, 3, 12, 0, 0)
LANDED = (
    "symbol STRING, price STRING, _rescued_data STRING, _source_file STRING, _bronze_at TIMESTAMP"
)
STREAMED = "symbol STRING, price STRING, _rescued_data STRING, _bronze_at TIMESTAMP"


def test_every_flow_of_landed_sources_keeps_its_rows_file_and_bronze_time(spark: Any) -> None:
    table = PIPELINE.table("slv_landed")
    rows = {
        "brz_a": [("aapl", "1.5", None, "file:/landing/a/1.json", BRONZE_AT)],
        "brz_b": [("msft", "oops", None, "file:/landing/b/7.json", BRONZE_AT)],
    }
    built = {
        source: process(table, spark.createDataFrame(frame, LANDED)).collect()
        for source, frame in rows.items()
    }
    (a,), (b,) = built["brz_a"], built["brz_b"]
    assert (a.symbol, a.price, a._source_file, a._bronze_at) == (
        "AAPL",
        1.5,
        "file:/landing/a/1.json",
        BRONZE_AT,
    )
    # A rescued row names the file its bad value came from.
    assert (b.price, b._source_file) == (None, "file:/landing/b/7.json")
    assert '"price":"oops"' in b._rescued_data
    assert list(a.asDict()) == list(b.asDict())  # the flows write one table: same columns


def test_a_stream_among_the_sources_leaves_out_the_file_and_keeps_the_bronze_time(
    spark: Any,
) -> None:
    table = PIPELINE.table("slv_mixed")
    landed = spark.createDataFrame([("aapl", "1", None, "file:/a.json", BRONZE_AT)], LANDED)
    streamed = spark.createDataFrame([("tsla", "2", None, BRONZE_AT)], STREAMED)
    from_file = process(table, landed)
    from_stream = process(table, streamed)
    assert from_file.columns == from_stream.columns
    assert "_source_file" not in from_stream.columns
    assert [(r.symbol, r._bronze_at) for r in from_stream.collect()] == [("TSLA", BRONZE_AT)]
