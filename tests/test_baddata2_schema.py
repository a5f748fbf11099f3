"""Event schemas no single file can break (issue #24, case 8), read on the test session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql.types import StructType

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime.readers import PER_FILE_INFERENCE_LIMIT, glob_escaped

pytestmark = pytest.mark.spark


def _bronze_table(events: Path) -> Any:
    pipeline = Pipeline.model_validate(
        {
            "name": "pl-schema",
            "tables": [
                {
                    "name": "brz_events",
                    "builder": {
                        "layer": "BRONZE",
                        "event_source": {
                            "name": "e",
                            "producer": {"name": "p"},
                            "events_root": str(events.parent.parent),
                            "read_as_stream": False,
                        },
                    },
                }
            ],
        }
    )
    return pipeline.table("brz_events")


def test_one_scalar_file_of_41_does_not_make_the_struct_a_string(
    spark: Any, tmp_path: Path
) -> None:
    """Past the per-file limit Spark's joint inference made `data` a string, and `validate
    --deep` (which infers from every landed file, no kept schema) refused every run."""
    from laktory_pulumi.runtime import read_source

    events = tmp_path / "events" / "p" / "e"
    events.mkdir(parents=True)
    files = 41
    assert files > PER_FILE_INFERENCE_LIMIT
    for index in range(files):
        data: object = {"symbol": f"S{index}", "close": float(index)}
        if index == 17:
            data = "oops"
        (events / f"{index:02}.json").write_text(json.dumps({"data": data}) + "\n")
    frame = read_source(_bronze_table(events), spark)
    assert isinstance(frame.schema["data"].dataType, StructType)
    rows = frame.collect()
    assert len([row for row in rows if row.data is not None]) == 40
    (bad,) = [row for row in rows if row._rescued_data is not None]
    assert json.loads(bad._rescued_data) == {"data": "oops"}


def test_glob_characters_in_a_file_name_are_escaped() -> None:
    assert glob_escaped("/land/o[5].json") == "/land/o\\[5\\].json"
    assert glob_escaped("/land/a{b,c}*?.json") == "/land/a\\{b,c\\}\\*\\?.json"


def _csv_table(events: Path) -> Any:
    pipeline = Pipeline.model_validate(
        {
            "name": "pl-csv",
            "tables": [
                {
                    "name": "brz_orders",
                    "builder": {
                        "layer": "BRONZE",
                        "event_source": {
                            "name": "e",
                            "producer": {"name": "p"},
                            "events_root": str(events.parent.parent),
                            "read_as_stream": False,
                            "format": "CSV",
                            "read_options": {"inferSchema": True},
                        },
                    },
                }
            ],
        }
    )
    return pipeline.table("brz_orders")


def test_csv_columns_are_matched_by_header_name(spark: Any, tmp_path: Path) -> None:
    """Case 7: before, the second file's values landed by position (order_id=7.25,
    customer=3, amount=cy), nothing was rescued, and silver dropped the row."""
    from laktory_pulumi.runtime import read_source

    events = tmp_path / "events" / "p" / "e"
    events.mkdir(parents=True)
    table = _csv_table(events)
    spark.conf.set("laktory_schema_root", str(tmp_path / "schemas"))
    try:
        (events / "1.csv").write_text("order_id,customer,amount\n1,ann,3.5\n")
        assert [tuple(row)[:3] for row in read_source(table, spark).collect()] == [(1, "ann", 3.5)]
        (events / "2.csv").write_text("amount,order_id,customer\n7.25,3,cy\nlots,4,dee\n")
        frame = read_source(table, spark)
        assert frame.columns[:3] == ["order_id", "customer", "amount"]
        rows = sorted(frame.collect(), key=lambda row: row.order_id)
        assert [(row.order_id, row.customer, row.amount) for row in rows] == [
            (1, "ann", 3.5),
            (3, "cy", 7.25),
            (4, "dee", None),
        ]
        assert [row._rescued_data for row in rows] == [None, None, "lots,4,dee"]
        assert rows[2]._source_file.endswith("/2.csv")
    finally:
        spark.conf.unset("laktory_schema_root")


def test_a_table_of_several_sources_reads_as_the_rows_of_all_its_flows(
    spark: Any, tmp_path: Path
) -> None:
    """`builder.read_source(spark)` of the design document's notebook API, on a table listing
    two event sources: each source read as its flow reads it, their rows together by column
    name (it failed on an assertion: the reader expected exactly one source)."""
    from laktory_pulumi.runtime import read_source

    root = tmp_path / "events"
    for producer, rows in (("shop", [{"id": 1, "amount": 2.5}]), ("web", [{"id": 2, "ua": "x"}])):
        folder = root / producer / "order"
        folder.mkdir(parents=True)
        (folder / "o.json").write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    source = {"name": "order", "events_root": str(root)}
    pipeline = Pipeline.model_validate(
        {
            "name": "pl-orders",
            "tables": [
                {
                    "name": "brz_orders",
                    "builder": {
                        "layer": "BRONZE",
                        "event_sources": [
                            {**source, "producer": {"name": "shop"}},
                            {**source, "producer": {"name": "web"}},
                        ],
                    },
                }
            ],
        }
    )
    frame = read_source(pipeline.table("brz_orders"), spark)
    assert frame.isStreaming  # listed sources are appended as streams
    query = frame.writeStream.format("memory").queryName("orders_of_all_flows")
    query.trigger(availableNow=True).start().awaitTermination(120)
    rows = sorted(spark.table("orders_of_all_flows").collect(), key=lambda row: row.id)
    assert [(row.id, row.amount, row.ua) for row in rows] == [(1, 2.5, None), (2, None, "x")]
    assert [Path(row._source_file).parent.parent.name for row in rows] == ["shop", "web"]
