"""A continuous pipeline keeps picking up new files until Ctrl-C, then stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_local_support import (
    REPO,
    STOCK_EVENTS,
    land,
    land_stock_metadata,
    make_project,
    stock_lines,
)

from laktory_pulumi.local.run_state import RunState

pytestmark = [pytest.mark.slow, pytest.mark.spark]

CLI = Path(sys.executable).parent / "laktory-pulumi"


def _wait_for_bronze_rows(state: Path, rows: int, process: subprocess.Popen[bytes]) -> RunState:
    """Poll the run state (written after each update) until bronze holds `rows` rows."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, "the continuous run ended on its own"
        try:
            report = RunState.read(state)
        except (FileNotFoundError, ValueError):  # not written yet
            report = None
        bronze = report.tables.get("brz_stock_prices") if report else None
        if bronze is not None and bronze.rows_total == rows:
            return report
        time.sleep(1)
    raise AssertionError(f"bronze never reached {rows} rows")


def test_a_continuous_pipeline_runs_update_after_update_until_ctrl_c(tmp_path: Path) -> None:
    pipeline = (REPO / "stacks" / "pipelines" / "pl-stock-prices.yaml").read_text()
    project = make_project(tmp_path / "project", pipeline + "continuous: true\n", "pl-stock-prices")
    landing, state = tmp_path / "landing", tmp_path / "state"
    lines = stock_lines()
    land_stock_metadata(landing)
    land(landing, STOCK_EVENTS, "first.json", lines[:100])
    command = [
        str(CLI),
        *("run", "pl-stock-prices", "--project", str(project), "--stack", "dev"),
        *("--landing", str(landing), "--state", str(state)),
    ]
    with (tmp_path / "out.txt").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_for_bronze_rows(state, 100, process)
            land(landing, STOCK_EVENTS, "second.json", lines[100:250])
            report = _wait_for_bronze_rows(state, 250, process)
            assert report.tables["slv_stock_prices"].rows_total == 250
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=120) == 130
        finally:
            if process.poll() is None:
                process.kill()
    printed = (tmp_path / "out.txt").read_text()
    assert "stopping after the current update" in printed
    final = RunState.read(state)
    assert final.status == "STOPPED"
    # Both updates' new rows add up: each file was read once.
    assert final.tables["brz_stock_prices"].rows_written == 250
    assert final.tables["slv_stock_prices"].rows_total == 250
