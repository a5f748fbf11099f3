"""Datasets reading a pipeline table wait for it in every run, not only the first.

Spark Connect analyses the input of `withColumns` as soon as a flow is defined. From the second
run on, the table it reads exists in the catalog, so that analysis used to succeed, bind the
plan to the stored table and hide the read from SDP: the flow lost its input, started before
the table's own flow and read the previous run's rows. The quarantine (a `withColumns` adding
the failed rules) and a silver table keeping its source's columns (one `withColumns`) both did.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_local_support import (
    STOCK_EVENTS,
    bronze_silver_yaml,
    land,
    make_project,
    run,
    run_state,
    stock_lines,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PIPELINE = bronze_silver_yaml(
    "pl-order",
    "ordering",
    '{name: known_symbol, expression: "symbol IS NOT NULL", action: DROP}',
    # The quarantine, and a batch reader of bronze besides the stream.
    more="""\
    quarantine: true
  - name: slv_prices_whole
    builder:
      layer: SILVER
      drop_source_columns: false
      table_source: {name: brz_prices, read_as_stream: false}
    columns:
      - {name: symbol, type: string, spark_func_name: coalesce, spark_func_args: [data.symbol]}
""",
)
STARTING = re.compile(r"TriggeredGraphExecution: Starting flow `[^`]+`\.`[^`]+`\.`(\w+)`")
COMPLETED = re.compile(r"TriggeredGraphExecution: Flow `[^`]+`\.`[^`]+`\.`(\w+)` has COMPLETED")


def _flow_steps(log: Path) -> list[tuple[str, str]]:
    """("start" | "done", table) for each flow of a run, in the order of the run's log."""
    steps = []
    for line in log.read_text(errors="replace").splitlines():
        if started := STARTING.search(line):
            steps.append(("start", started.group(1)))
        elif completed := COMPLETED.search(line):
            steps.append(("done", completed.group(1)))
    return steps


def test_readers_of_a_table_start_after_it_in_later_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", PIPELINE, "pl-order")
    landing, state = tmp_path / "landing", tmp_path / "state"
    land(landing, STOCK_EVENTS, "good.json", stock_lines()[:5])
    assert run(project, "pl-order", landing, state) == 0

    no_symbol = json.loads(stock_lines()[0])
    no_symbol["data"]["symbol"] = None
    land(landing, STOCK_EVENTS, "no_symbol.json", [json.dumps(no_symbol)])
    assert run(project, "pl-order", landing, state) == 0

    steps = _flow_steps(max((state / "logs").glob("*.log")))
    bronze_done = steps.index(("done", "brz_prices"))
    for reader in ("slv_prices", "slv_prices_quarantine", "slv_prices_whole"):
        assert steps.index(("start", reader)) > bronze_done, steps

    tables = run_state(state).tables
    assert tables["slv_prices"].quarantined == 1
    assert tables["slv_prices_quarantine"].rows_total == 1
    # A materialized view over the whole bronze table sees this run's row too.
    assert tables["slv_prices_whole"].rows_total == 6
