"""The notebook templates in debug mode on the real hourly stock events (issue: runtime).

Each template runs as a notebook would on an interactive cluster: outside any pipeline, so the
`dlt` shim evaluates eagerly and `dlt.get_df` hands back the DataFrames. Expected values come
from the JSON file read with plain Python.
"""

from __future__ import annotations

import json
import math
import runpy
import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from test_local_support import SILVER_COLUMNS

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parent.parent
STOCK_DATA = REPO / "data" / "stock_prices" / "stock_prices_hourly.jsonl"
STOCK_METADATA = REPO / "data" / "stock_metadata" / "stock_metadata.jsonl"
TEMPLATES = ("dlt_brz_template", "dlt_slv_template", "dlt_slv_star_template", "dlt_gld_template")
NOTEBOOKS = REPO / "notebooks"


def _events() -> list[dict[str, Any]]:
    return [json.loads(line)["data"] for line in STOCK_DATA.read_text().splitlines()]


def _utc(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp).astimezone(timezone.utc)


@pytest.fixture(scope="module")
def templates(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Globals of the four templates after running them in order, as a debugging user would."""
    from laktory_pulumi.loader import load_stack
    from laktory_pulumi.metadata import metadata_bytes, metadata_workspace_path
    from laktory_pulumi.runtime import dlt

    root = tmp_path_factory.mktemp("runtime-stock")
    events = root / "landing" / "events" / "yahoo-finance" / "stock_price"
    events.mkdir(parents=True)
    shutil.copyfile(STOCK_DATA, events / "stock_prices_hourly.json")
    metadata_events = root / "landing" / "events" / "yahoo-finance" / "stock_metadata"
    metadata_events.mkdir(parents=True)
    shutil.copyfile(STOCK_METADATA, metadata_events / "stock_metadata.json")
    pipeline = load_stack(REPO, "dev").pipelines["pl-stock-prices"]
    metadata = root / "workspace" / metadata_workspace_path(pipeline.name).lstrip("/")
    metadata.parent.mkdir(parents=True)
    metadata.write_bytes(metadata_bytes(pipeline))

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKTORY_WORKSPACE_ROOT", str(root / "workspace"))
        patch.setenv("LAKTORY_LANDING_ROOT", str(root / "landing"))
        patch.setenv("LAKTORY_DLT_BACKEND", "eager")
        dlt.use_backend(None)
        # What a deployed pipeline's configuration holds; read_metadata finds its file with it.
        spark.conf.set("pipeline_name", pipeline.name)
        try:
            results = {}
            for notebook in TEMPLATES:
                results[notebook] = runpy.run_path(str(NOTEBOOKS / f"{notebook}.py"))
            yield results
        finally:
            spark.conf.unset("pipeline_name")
            dlt.use_backend(None)


def _frame(templates: dict[str, Any], notebook: str, table: str) -> Any:
    from laktory_pulumi.runtime.dlt_eager import as_batch

    frame = templates[notebook]["dlt"].get_df(table)
    return as_batch(frame, table)


def test_bronze_keeps_every_event_with_its_data_struct(templates: dict[str, Any]) -> None:
    bronze = _frame(templates, "dlt_brz_template", "brz_stock_prices")
    assert bronze.count() == 7012
    fields = {field.name: field.dataType for field in bronze.schema.fields}
    assert fields["data"].typeName() == "struct"
    assert {"symbol", "open", "close", "_created_at"} <= set(fields["data"].fieldNames())
    assert fields["_bronze_at"].typeName() == "timestamp"
    assert bronze.where("_bronze_at IS NULL OR _rescued_data IS NOT NULL").count() == 0


def test_silver_has_the_declared_columns_types_and_values(templates: dict[str, Any]) -> None:
    silver = _frame(templates, "dlt_slv_template", "slv_stock_prices")
    assert silver.count() == 7012
    assert {name: kind for name, kind in silver.dtypes if name in SILVER_COLUMNS} == SILVER_COLUMNS
    assert {"_bronze_at", "_tstamp", "_silver_at"} <= set(silver.columns)
    assert "data" not in silver.columns  # silver drops its source's columns by default

    events = _events()
    first_apple = min((e for e in events if e["symbol"] == "AAPL"), key=lambda e: e["_created_at"])
    last_msft = max((e for e in events if e["symbol"] == "MSFT"), key=lambda e: e["_created_at"])
    for event in (first_apple, last_msft):
        at = _utc(event["_created_at"]).replace(tzinfo=None)
        rows = silver.where(
            f"symbol = '{event['symbol']}' AND created_at = timestamp'{at.isoformat()}'"
        ).collect()
        assert len(rows) == 1
        row = rows[0]
        for name in ("open", "close", "high", "low", "volume"):
            assert row[name] == event[name], name
        assert row["_tstamp"] == row["created_at"]


def test_gold_daily_figures_equal_plain_python(templates: dict[str, Any]) -> None:
    days: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in _events():
        days[(event["symbol"], _utc(event["_created_at"]).date().isoformat())].append(event)
    expected = {}
    for key, bars in days.items():
        bars.sort(key=lambda bar: _utc(bar["_created_at"]))
        open_, close = bars[0]["open"], bars[-1]["close"]
        expected[key] = (
            open_,
            close,
            max(bar["high"] for bar in bars),
            min(bar["low"] for bar in bars),
            close / open_ - 1,
        )

    gold = templates["dlt_gld_template"]["dlt"].get_df("gld_stock_performances")
    assert gold.columns[:9] == [
        "symbol",
        "currency",
        "exchange",
        "day",
        "open",
        "close",
        "high",
        "low",
        "daily_return",
    ]
    assert {
        (row.currency, row.exchange) for row in gold.select("currency", "exchange").collect()
    } == {("USD", "NasdaqGS")}
    rows = gold.collect()
    actual = {
        (row.symbol, row.day.isoformat()): (
            row.open,
            row.close,
            row.high,
            row.low,
            row.daily_return,
        )
        for row in rows
    }
    assert len(rows) == len(actual) == len(expected)
    assert actual.keys() == expected.keys()
    for key, figures in expected.items():
        assert all(
            math.isclose(a, b, rel_tol=1e-12) for a, b in zip(actual[key], figures, strict=True)
        ), key


def test_metadata_keeps_the_latest_event_of_each_symbol(templates: dict[str, Any]) -> None:
    metadata = _frame(templates, "dlt_slv_template", "slv_stock_metadata")
    events = [json.loads(line)["data"] for line in STOCK_METADATA.read_text().splitlines()]
    expected = {
        (e["symbol"], e["currency"], e["fullExchangeName"], int(e["firstTradeDate"]))
        for e in events
    }
    rows = metadata.selectExpr(
        "symbol", "currency", "exchange", "unix_seconds(first_traded) AS first_traded"
    ).collect()
    assert {tuple(row) for row in rows} == expected
    assert len(rows) == 4


def test_silver_star_joins_every_price_with_its_metadata(templates: dict[str, Any]) -> None:
    star = _frame(templates, "dlt_slv_star_template", "slv_star_stock_prices")
    silver = _frame(templates, "dlt_slv_template", "slv_stock_prices")
    # Silver-star keeps its source's columns (Laktory's default) and adds the joined ones.
    assert set(silver.columns) < set(star.columns)
    assert set(star.columns) - set(silver.columns) == {
        "currency",
        "exchange",
        "first_traded",
        "_silver_star_at",
    }
    assert star.count() == silver.count() == 7012
    counts = star.groupBy("currency", "exchange").count().collect()
    assert [(row.currency, row.exchange, row["count"]) for row in counts] == [
        ("USD", "NasdaqGS", 7012)
    ]


def test_templates_hard_code_no_table_name() -> None:
    for template in (f"{name}.py" for name in TEMPLATES):
        source = (NOTEBOOKS / template).read_text()
        assert source.startswith("# Databricks notebook source\n# MAGIC %pip install ")
        assert "# COMMAND ----------" in source
        assert "stock" not in source.replace('"pl-stock-prices"', "")
