"""An event source without `producer`, as Laktory v0.0.22 allowed: its events are read from
`<events_root>/<name>/` (`DataEventHeader.event_root` in laktory/models/dataeventheader.py at
tag v0.0.22 leaves the producer's folder out when there is none)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from laktory_pulumi.loader import load_pipeline_file
from laktory_pulumi.models import Pipeline
from laktory_pulumi.models.sources import flow_key


def _pipeline(tmp_path: Path, root: Path) -> Pipeline:
    path = tmp_path / "pl.yaml"
    path.write_text(
        f"""\
name: pl-plain-events
libraries:
  - notebook: {{path: /pipelines/dlt_brz_template.py}}
tables:
  - name: brz_prices
    builder:
      layer: BRONZE
      event_source:
        name: stock_price
        events_root: {root}/
        read_as_stream: false
"""
    )
    return load_pipeline_file(path, {})


def test_an_event_source_without_producer_loads_with_laktorys_folder(tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, Path("/landing/events"))
    source = pipeline.tables[0].builder.event_source
    assert source is not None and source.producer is None
    assert source.events_path(None) == "/landing/events/stock_price/"
    # Without events_root, under the landing root's events/ folder.
    source.events_root = None
    assert source.events_path("/mnt/landing") == "/mnt/landing/events/stock_price/"
    assert flow_key(source) == "events_stock_price"

    from laktory_pulumi.graph.model import build_graph

    labels = [node.lines for node in build_graph(pipeline).nodes if node.kind == "source"]
    assert labels == [("events: stock_price",)]


@pytest.mark.spark
def test_its_events_are_read_from_root_slash_name(spark: SparkSession, tmp_path: Path) -> None:
    from laktory_pulumi.runtime import read_source

    root = tmp_path / "events"
    (root / "stock_price").mkdir(parents=True)
    (root / "stock_price" / "1.json").write_text(json.dumps({"symbol": "AAPL", "close": 190.5}))
    # A producer's folder with other events: not read.
    (root / "yahoo" / "stock_price").mkdir(parents=True)
    (root / "yahoo" / "stock_price" / "1.json").write_text(json.dumps({"symbol": "MSFT"}))
    table = _pipeline(tmp_path, root).tables[0]
    frame = read_source(table, spark)
    assert [(row.symbol, row.close) for row in frame.collect()] == [("AAPL", 190.5)]
