"""A declared join key whose cast fails never blocks its table, and its row never vanishes.

Under ANSI SQL the key used to be cast with a plain `CAST`: one `'x'` in a `long` key raised
CAST_INVALID_INPUT and failed the table. Now the key is NULL, the row is kept by every kind of
join (inner, right and semi ones included, which drop a row matching nothing), its raw key is
rescued, and a quarantined table sends it to its quarantine (docs/joins.md).

Small frames on the eager backend (the code the templates run), and one stream-static join
run as a stream, since Spark refuses some plans only on streams.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import process
from laktory_pulumi.runtime.expectations import FAILED_EXPECTATIONS_COLUMN
from laktory_pulumi.runtime.tables import define_quarantine, define_table

pytestmark = pytest.mark.spark

LEFT = [("1", 1.0), ("2", 2.0), ("3", 3.0), ("x", 4.0), (None, 5.0)]
"""`code` is the key's raw text: 3 matches nothing, x fails its cast, NULL is no key at all."""
META = [[1, "one"], [2, "two"]]


def _pipeline(how: str, layer: str = "SILVER_STAR", **star: Any) -> Pipeline:
    return Pipeline.model_validate(
        {
            "name": "pl-join-keys",
            "tables": [
                {
                    "name": "slv_left",
                    "builder": {
                        "layer": "SILVER",
                        "table_source": {"name": "dev.raw.left", "read_as_stream": False},
                    },
                    "columns": [{"name": "code", "sql_expression": "code"}],
                },
                {
                    "name": "meta",
                    "builder": {"layer": "SILVER"},
                    "columns": [{"name": "id", "type": "long"}, {"name": "label"}],
                    "data": META,
                },
                {
                    "name": "star",
                    "builder": {
                        "layer": layer,
                        "table_source": {"name": "slv_left", "read_as_stream": False},
                        "joins": [
                            {"other": {"name": "meta", "read_as_stream": False}, "on": ["id"], "how": how}
                        ],
                    },
                    "columns": [
                        {"name": "id", "type": "long", "sql_expression": "code"},
                        {"name": "v", "type": "double", "sql_expression": "v"},
                    ],
                    **star,
                },
            ],
        }
    )  # fmt: skip


@pytest.fixture
def eager(spark: Any) -> Iterator[Any]:
    from laktory_pulumi.runtime import dlt

    backend = dlt.use_backend("eager")
    dlt.spark = spark
    yield backend
    dlt.use_backend(None)
    dlt.spark = None


def _left(spark: Any) -> Any:
    """The left rows, with the `_bronze_at` a silver table carries from its source."""
    frame = spark.createDataFrame(LEFT, "code string, v double")
    return frame.selectExpr("*", "current_timestamp() AS _bronze_at")


def _rows(frame: Any) -> set[tuple[Any, ...]]:
    """(v, id, the rescued text) of each row: `v` tells the rows apart."""
    return {(row.v, row.id, row._rescued_data) for row in frame.collect()}


# What each kind of join keeps: the bad key's row (v 4.0) in every one, NULL id, rescued.
BAD = (4.0, None, '{"id":"x"}')
KEPT = {
    "left": {(1.0, 1, None), (2.0, 2, None), (3.0, 3, None), BAD, (5.0, None, None)},
    "inner": {(1.0, 1, None), (2.0, 2, None), BAD},
    "left_semi": {(1.0, 1, None), (2.0, 2, None), BAD},
    "right": {(1.0, 1, None), (2.0, 2, None), BAD},
    "left_anti": {(3.0, 3, None), BAD, (5.0, None, None)},
}


@pytest.mark.parametrize("how", sorted(KEPT))
def test_a_key_failing_its_cast_keeps_its_row_through_every_join(
    spark: Any, eager: Any, how: str
) -> None:
    pipeline = _pipeline(how)
    eager.frames["slv_left"] = _left(spark)
    define_table(pipeline.table("meta"), spark)

    star = process(pipeline.table("star"), _left(spark))

    assert _rows(star) == KEPT[how]
    if how in ("inner", "right"):
        # The other side's columns of the row that joined nothing are NULL.
        labels = {row.v: row.label for row in star.collect()}
        assert labels == {1.0: "one", 2.0: "two", 4.0: None}


def test_a_quarantined_table_sends_the_bad_key_to_quarantine(spark: Any, eager: Any) -> None:
    from laktory_pulumi.runtime import dlt

    rule = {"name": "positive", "expression": "v > 0", "action": "DROP"}  # every row passes
    # A SILVER table (only BRONZE and SILVER ones have a quarantine).
    pipeline = _pipeline("inner", "SILVER", quarantine=True, expectations=[rule])
    table = pipeline.table("star")
    eager.frames["slv_left"] = _left(spark)
    define_table(pipeline.table("meta"), spark)

    @dlt.table(name=table.name)
    @dlt.expectations(table)
    def star() -> Any:
        return process(table, _left(spark))

    assert _rows(dlt.get_df(star)) == {(1.0, 1, None), (2.0, 2, None)}
    quarantined = dlt.get_df(define_quarantine(table, spark)).collect()
    assert [(row.v, row.id, row[FAILED_EXPECTATIONS_COLUMN]) for row in quarantined] == [
        (4.0, None, ["cast:id"])
    ]


def test_a_stream_joined_with_a_static_table_keeps_the_bad_key_row(
    spark: Any, eager: Any, tmp_path: Path
) -> None:
    """The same inner join with the left side a stream of landed JSON lines, run to the end
    with `availableNow`: Spark accepts the plan on a stream, and the row comes out once."""
    pipeline = _pipeline("inner")
    landed = tmp_path / "left"
    landed.mkdir()
    lines = [json.dumps({"code": code, "v": v}) for code, v in LEFT]
    (landed / "part-0.json").write_text("\n".join(lines) + "\n")
    stream = spark.readStream.schema("code string, v double").json(str(landed))
    define_table(pipeline.table("meta"), spark)

    query = (
        process(pipeline.table("star"), stream)
        .writeStream.format("memory")
        .queryName("join_keys_stream")
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    try:
        assert query.awaitTermination(120)
        assert query.exception() is None
        result = spark.table("join_keys_stream")
        assert _rows(result) == KEPT["inner"]
        assert result.count() == len(KEPT["inner"])
    finally:
        query.stop()
