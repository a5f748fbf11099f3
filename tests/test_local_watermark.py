"""A watermarked table source deduplicates a stream across runs, within its watermark."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_local_support import STOCK_EVENTS, land, make_project, run, run_state, stock_lines

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PIPELINE = """\
name: pl-dedup
target: dedup
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz_prices
    builder:
      layer: BRONZE
      event_source: {name: stock_price, producer: {name: yahoo-finance}}
  - name: slv_prices
    timestamp_key: created_at
    primary_key: [symbol, created_at]
    builder:
      layer: SILVER
      drop_duplicates: true
      table_source:
        name: brz_prices
        watermark: {column: _bronze_at, threshold: 1 hour}
    columns:
      - {name: created_at, type: timestamp, spark_func_name: coalesce, spark_func_args: [data._created_at]}
      - {name: symbol, type: string, spark_func_name: coalesce, spark_func_args: [data.symbol]}
"""


def test_duplicates_within_the_watermark_are_dropped_across_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", PIPELINE, "pl-dedup")
    landing, state = tmp_path / "landing", tmp_path / "state"
    lines = stock_lines()[:40]

    land(landing, STOCK_EVENTS, "1.json", lines[:20] + lines[:5])
    assert run(project, "pl-dedup", landing, state) == 0
    first = run_state(state).tables
    assert (first["brz_prices"].rows_total, first["slv_prices"].rows_total) == (25, 20)

    # New events and events the first run already kept, sent again.
    land(landing, STOCK_EVENTS, "2.json", lines[20:30] + lines[5:10])
    assert run(project, "pl-dedup", landing, state) == 0
    second = run_state(state).tables
    assert second["brz_prices"].rows_written == 15
    assert second["slv_prices"].rows_written == 10
    assert second["slv_prices"].rows_total == 30
