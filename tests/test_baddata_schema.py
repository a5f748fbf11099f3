"""The kept event schema grows with new fields and is never fixed by a bad first file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql.types import (
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime.schema_merge import grow


def _struct(**fields: Any) -> StructType:
    return StructType([StructField(name, kind, True) for name, kind in fields.items()])


def test_grow_adds_new_fields_nested_too_and_never_narrows() -> None:
    kept = _struct(data=_struct(symbol=StringType(), open=DoubleType()), name=StringType())
    new = _struct(data=_struct(open=LongType(), currency=StringType()), source=StringType())
    grown = grow(kept, new)
    assert grown == _struct(
        data=_struct(symbol=StringType(), open=DoubleType(), currency=StringType()),
        name=StringType(),
        source=StringType(),
    )


def test_grow_prefers_the_richer_type() -> None:
    # A string kept from a bad first file gives way to the struct later files hold...
    assert grow(_struct(data=StringType()), _struct(data=_struct(a=LongType()))) == _struct(
        data=_struct(a=LongType())
    )
    # ...and a struct is never replaced by a stray string, nor a wider number by a narrower one.
    assert grow(_struct(data=_struct(a=LongType())), _struct(data=StringType())) == _struct(
        data=_struct(a=LongType())
    )
    assert grow(_struct(v=DoubleType()), _struct(v=LongType())) == _struct(v=DoubleType())


def test_a_kept_type_never_changes_and_names_match_whatever_their_case() -> None:
    """Issue #24, cases 9 and 6. Auto Loader's addNewColumns leaves a kept type alone (the
    odd value goes to `_rescued_data`): widening long to double failed every later write of
    bronze (CANNOT_MERGE_INCOMPATIBLE_DATA_TYPE). Files inferred together before any schema
    is kept take the wider number, as Spark's joint inference would."""
    assert grow(_struct(v=LongType()), _struct(v=DoubleType())) == _struct(v=LongType())
    assert grow(_struct(v=LongType()), _struct(v=DoubleType()), widen=True) == _struct(
        v=DoubleType()
    )
    # `Amount` is the kept `amount`: before, both were kept and every later run failed.
    kept = _struct(id=LongType(), data=_struct(amount=LongType()))
    new = _struct(ID=LongType(), data=_struct(Amount=LongType(), note=StringType()))
    assert grow(kept, new) == _struct(
        id=LongType(), data=_struct(amount=LongType(), note=StringType())
    )


def _bronze_table(events: Path) -> Any:
    """A bronze table reading `events`, a folder `<events_root>/p/e/` (Laktory's layout)."""
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


@pytest.mark.spark
def test_a_bad_first_file_does_not_fix_the_schema_and_new_fields_appear(
    spark: Any, tmp_path: Path
) -> None:
    from laktory_pulumi.runtime import read_source

    events, schemas = tmp_path / "events" / "p" / "e", tmp_path / "schemas"
    events.mkdir(parents=True)
    table = _bronze_table(events)
    spark.conf.set("laktory_schema_root", str(schemas))
    try:
        (events / "1_bad.json").write_text(json.dumps({"data": "oops"}) + "\n")
        first = read_source(table, spark)
        assert first.schema["data"].dataType == StringType()

        good = {"data": {"symbol": "AAPL", "open": 1.5}, "name": "price"}
        (events / "2_good.json").write_text(json.dumps(good) + "\n")
        second = read_source(table, spark)
        assert isinstance(second.schema["data"].dataType, StructType)
        rows = {row._source_file.rsplit("/", 1)[-1]: row for row in second.collect()}
        assert rows["2_good.json"].data.symbol == "AAPL"
        # The odd line is rescued, not lost.
        assert json.loads(rows["1_bad.json"]._rescued_data) == {"data": "oops"}

        later = {"data": {"symbol": "MSFT", "open": 2.0, "currency": "USD"}, "source": "feed"}
        (events / "3_later.json").write_text(json.dumps(later) + "\n")
        third = read_source(table, spark)
        assert "source" in third.columns
        assert "currency" in third.schema["data"].dataType.fieldNames()
        assert third.where("source = 'feed' AND data.currency = 'USD'").count() == 1
        kept = json.loads((schemas / "brz_events.json").read_text())
        assert "source" in [field["name"] for field in kept["fields"]]
    finally:
        spark.conf.unset("laktory_schema_root")


@pytest.mark.spark
def test_a_bad_file_landed_with_good_ones_does_not_make_the_struct_a_string(
    spark: Any, tmp_path: Path
) -> None:
    """Spark's joint inference would make `data` a string; each file is inferred alone."""
    from laktory_pulumi.runtime import read_source

    events = tmp_path / "events" / "p" / "e"
    events.mkdir(parents=True)
    (events / "1_bad.json").write_text(json.dumps({"data": "oops"}) + "\n")
    good = {"data": {"symbol": "AAPL", "open": 1.5}, "name": "price"}
    (events / "2_good.json").write_text(json.dumps(good) + "\n")
    spark.conf.set("laktory_schema_root", str(tmp_path / "schemas"))
    try:
        frame = read_source(_bronze_table(events), spark)
        assert isinstance(frame.schema["data"].dataType, StructType)
        rows = frame.collect()
        assert [row.data.symbol for row in rows if row.data is not None] == ["AAPL"]
        assert [json.loads(row._rescued_data) for row in rows if row._rescued_data] == [
            {"data": "oops"}
        ]
    finally:
        spark.conf.unset("laktory_schema_root")
