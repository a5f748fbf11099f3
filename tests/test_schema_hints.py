"""An event source's `schema_hints` (Auto Loader's `cloudFiles.schemaHints`, issue #18 item 7):
hinted columns typed as hinted, the others inferred, new fields still columns; on an empty
landing the hinted columns are the schema, so a fresh deploy's first update runs.

Databricks docs, "Configure schema inference and evolution in Auto Loader"
(https://docs.databricks.com/en/ingestion/cloud-object-storage/auto-loader/schema.html):
"`addNewColumns` is not allowed when the schema of the stream is provided, but does work if you
provide your schema as a schema hint"; hints are "used only if you do not provide a schema".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from laktory_pulumi.models import Pipeline
from laktory_pulumi.models.schema_hints import hinted_ddl
from laktory_pulumi.runtime.readers import holds_no_file

HINTS = "data.open DOUBLE, data.symbol STRING"


def _pipeline(events_root: Path | str, **source: Any) -> Pipeline:
    return Pipeline.model_validate(
        {
            "name": "pl-hints",
            "tables": [
                {
                    "name": "brz_events",
                    "builder": {
                        "layer": "BRONZE",
                        "event_source": {
                            "name": "e",
                            "producer": {"name": "p"},
                            "events_root": str(events_root),
                            **source,
                        },
                    },
                }
            ],
        }
    )


def test_hints_are_the_struct_of_the_hinted_columns() -> None:
    assert hinted_ddl("data.open DOUBLE, id INT, data.symbol STRING") == (
        "`data` STRUCT<`open`: DOUBLE, `symbol`: STRING>, `id` INT"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"schema_hints": HINTS, "schema_ddl": "id INT"}, "Auto Loader uses hints only when"),
        ({"schema_hints": "data.open"}, "is no hint"),
        ({"schema_hints": "data.open DUBBLE"}, "is not a Spark SQL type"),
        ({"schema_hints": "items.element.price DOUBLE"}, "inside arrays and maps"),
    ],
)
def test_hints_that_cannot_work_are_refused(source: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _pipeline("/tmp/x", **source)


def test_an_empty_or_missing_folder_holds_no_file(tmp_path: Path) -> None:
    assert holds_no_file(str(tmp_path / "missing"))
    (tmp_path / "e" / "_checkpoint").mkdir(parents=True)
    (tmp_path / "e" / ".hidden").write_text("x")
    assert holds_no_file(str(tmp_path / "e"))
    (tmp_path / "e" / "2024").mkdir()
    (tmp_path / "e" / "2024" / "a.json").write_text("{}")
    assert not holds_no_file(str(tmp_path / "e"))
    assert not holds_no_file("abfss://landing@account.dfs.core.windows.net/events/")


def test_databricks_reads_hints_and_the_hinted_schema_on_an_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Auto Loader gets `cloudFiles.schemaHints`; with no file landed, the hinted columns are
    given as the schema (CF_EMPTY_DIR_FOR_SCHEMA_INFERENCE otherwise), then inference again."""
    from laktory_pulumi.runtime import readers

    calls: list[tuple[str, Any]] = []

    class Reader:
        def format(self, name: str) -> Reader:
            calls.append(("format", name))
            return self

        def options(self, **options: str) -> Reader:
            calls.append(("options", options))
            return self

        def schema(self, ddl: str) -> Reader:
            calls.append(("schema", ddl))
            return self

        def load(self, path: str) -> str:
            return path

    class Conf:
        def get(self, key: str, default: Any = None) -> Any:
            return default

    class Session:
        readStream = Reader()
        conf = Conf()

    table = _pipeline(tmp_path, schema_hints=HINTS).table("brz_events")
    source = table.builder.event_source
    assert source is not None
    path = source.events_path(None)
    readers._auto_loader("brz_events", source, Session(), path, "json", {})  # type: ignore[arg-type]
    options = next(value for kind, value in calls if kind == "options")
    assert "cloudFiles.schemaHints" not in options  # used only without a schema
    assert ("schema", hinted_ddl(HINTS)) in calls
    Path(path).mkdir(parents=True)
    (Path(path) / "1.json").write_text("{}\n")
    calls.clear()
    readers._auto_loader("brz_events", source, Session(), path, "json", {})  # type: ignore[arg-type]
    assert [kind for kind, _ in calls] == ["format", "options"]
    options = next(value for kind, value in calls if kind == "options")
    assert options["cloudFiles.schemaHints"] == HINTS
    assert options["cloudFiles.inferColumnTypes"] == "true"


def _drain(spark: Any, frame: Any, name: str) -> list[Any]:
    query = (
        frame.writeStream.format("memory")
        .queryName(name)
        .trigger(availableNow=True)
        .option("checkpointLocation", f"/tmp/laktory-hints-{name}-{id(frame)}")
        .start()
    )
    query.awaitTermination()
    rows = spark.table(name).collect()
    spark.sql(f"DROP VIEW IF EXISTS {name}")
    return rows


@pytest.mark.spark
def test_locally_hinted_types_hold_and_new_fields_still_become_columns(
    spark: Any, tmp_path: Path
) -> None:
    from pyspark.sql.types import DoubleType, LongType, StringType, StructType

    from laktory_pulumi.runtime import read_source

    table = _pipeline(tmp_path / "events", schema_hints=HINTS).table("brz_events")
    events = tmp_path / "events" / "p" / "e"
    spark.conf.set("laktory_schema_root", str(tmp_path / "schemas"))
    try:
        # A fresh landing: no folder at all. The hinted columns are the schema.
        first = read_source(table, spark)
        data = first.schema["data"].dataType
        assert isinstance(data, StructType)
        assert [(f.name, f.dataType) for f in data.fields] == [
            ("open", DoubleType()),
            ("symbol", StringType()),
        ]
        assert "_rescued_data" in first.columns
        assert events.is_dir() and _drain(spark, first, "hints_empty") == []
        assert not (tmp_path / "schemas" / "brz_events.json").exists()

        # Files land: `open` is a whole number (inferred LONG), hinted DOUBLE; `volume` and
        # `source` are new and become columns; `Symbol` is the hinted `symbol`.
        lines = [
            {"data": {"symbol": "AAPL", "open": 1, "volume": 10}, "source": "feed"},
            {"data": {"symbol": "GOOG", "open": "n/a"}},
        ]
        events.joinpath("1.json").write_text("\n".join(map(json.dumps, lines)) + "\n")
        events.joinpath("2.json").write_text(json.dumps({"data": {"Symbol": "MSFT", "open": 2}}))
        second = read_source(table, spark)
        data = second.schema["data"].dataType
        assert isinstance(data, StructType)
        types = {f.name: f.dataType for f in data.fields}
        assert types == {"open": DoubleType(), "symbol": StringType(), "volume": LongType()}
        assert "source" in second.columns
        rows = sorted(_drain(spark, second, "hints_files"), key=lambda row: str(row.data.symbol))
        assert [(row.data.symbol, row.data.open) for row in rows] == [
            ("AAPL", 1.0),
            ("GOOG", None),
            ("MSFT", 2.0),
        ]
        # A value that is not the hinted type is rescued, never lost.
        (goog,) = [row for row in rows if row.data.symbol == "GOOG"]
        assert json.loads(goog._rescued_data)["data"]["open"] == "n/a"
        assert rows[0].source == "feed"
    finally:
        spark.conf.unset("laktory_schema_root")
