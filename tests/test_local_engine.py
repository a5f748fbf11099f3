"""The warm local engine across real runs of one state folder: reused, replaced, idle-stopped.

One scenario, so that the JVM start is paid twice in all (the first run, and the replacement
of a killed server): warm reuse, a killed server, a failing pipeline that still reports the
rows bronze committed, and the idle timeout. The pipelines are two tables of the stock events
(bronze, then silver): what is tested is the engine, which a bigger pipeline would only slow.
"""

from __future__ import annotations

import os
import signal
import time
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

from laktory_pulumi.cli import main
from laktory_pulumi.local.engine import process_alive, read_record
from laktory_pulumi.local.engine_server import RECORDING_STOP_SECONDS
from laktory_pulumi.local.layout import StateLayout

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PIPELINE = "pl-engine"
ROWS = 500

PASSING = bronze_silver_yaml(
    PIPELINE, "prices", "{name: has_symbol, expression: symbol IS NOT NULL, action: WARN}"
)

FAILING = bronze_silver_yaml(
    "pl-fails-in-silver",
    "fails",
    "{name: no_symbol_at_all, expression: symbol IS NULL, action: FAIL}",
)


def _alive(layout: StateLayout, *pids: int) -> bool:
    return any(process_alive(pid, str(layout.root)) for pid in pids)


def test_runs_reuse_the_warm_engine_replace_a_dead_one_and_it_stops_when_idle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing, state = tmp_path / "landing", tmp_path / "state"
    layout = StateLayout.at(state)
    land(landing, STOCK_EVENTS, "prices.json", stock_lines()[:ROWS])
    project = make_project(tmp_path / "project", PASSING, PIPELINE)
    (project / "stacks" / "pipelines" / "pl-fails-in-silver.yaml").write_text(FAILING)

    assert run(project, PIPELINE, landing, state) == 0
    first = read_record(layout)
    assert first is not None and _alive(layout, first.supervisor_pid, first.server_pid)
    assert "local Spark engine: starting" in capsys.readouterr().out
    # The JVM maps the machine's class archive, or records it (`local/class_archive.py`).
    command = Path(f"/proc/{first.server_pid}/cmdline").read_bytes().split(b"\0")
    assert any(
        option.startswith((b"-XX:SharedArchiveFile=", b"-XX:ArchiveClassesAtExit="))
        for option in command
    ), command

    # Warm: the same server, only new rows (none), no client left marked as connected.
    assert run(project, PIPELINE, landing, state) == 0
    assert read_record(layout) == first
    assert "local Spark engine: warm" in capsys.readouterr().out
    report = run_state(state)
    assert report.tables["brz_prices"].rows_written == 0
    assert report.tables["brz_prices"].rows_total == ROWS
    assert not (layout.engine / "in-use").exists()

    # A killed server is detected and replaced; the tables are intact.
    os.kill(first.server_pid, signal.SIGKILL)
    assert run(project, PIPELINE, landing, state) == 0
    second = read_record(layout)
    assert second is not None and second.server_pid != first.server_pid
    assert "replacing it" in capsys.readouterr().out
    assert not _alive(layout, first.supervisor_pid, first.server_pid)
    assert run_state(state).tables["slv_prices"].rows_total == ROWS

    # A pipeline failing in silver on a FAIL expectation (same state, same warm engine):
    # bronze's committed rows are in the report, with the failing table, the rule and where
    # the table is declared.
    assert run(project, "pl-fails-in-silver", landing, state) == 1
    failed = run_state(state)
    assert failed.status == "FAILED"
    assert failed.tables["brz_prices"].rows_written == ROWS
    assert failed.failure is not None and failed.failure.table == "slv_prices"
    assert failed.failure.location.startswith("stacks/pipelines/pl-fails-in-silver.yaml:")
    assert failed.failure.location.endswith(": tables[1]")
    lines = capsys.readouterr().out.splitlines()
    # One line, where the table is declared first (issue #18: every error names its line first).
    failure = [line for line in lines if line.startswith("stacks/pipelines/")]
    assert len(failure) == 1, lines
    assert failure[0].startswith(f"{failed.failure.location}: table slv_prices: ")
    assert "no_symbol_at_all" in failure[0]
    assert any(line.startswith("full log: ") for line in lines)
    assert read_record(layout) == second, "a failed run keeps the warm engine"

    # The idle timeout of the latest run applies: the engine stops itself.
    assert run(project, PIPELINE, landing, state, "--idle-timeout", "1") == 0
    # An engine recording the JVM's class archive writes it while it stops.
    deadline = time.monotonic() + RECORDING_STOP_SECONDS + 30
    while _alive(layout, second.supervisor_pid, second.server_pid):
        assert time.monotonic() < deadline, "the idle engine did not stop"
        time.sleep(0.5)
    assert read_record(layout) is None
    capsys.readouterr()
    assert main(["engine", "stop", "--state", str(state)]) == 0
    assert "no engine running" in capsys.readouterr().out


def test_an_engine_whose_state_folder_is_deleted_stops_itself(tmp_path: Path) -> None:
    # Deleting the state folder is the documented full reset; its engine's idle clock lives in
    # that folder, so without this rule the server would never stop.
    import shutil
    import sys

    import pyspark

    from laktory_pulumi.local.engine import code_fingerprint, ensure_engine
    from laktory_pulumi.local.spec import write_spark_conf

    layout = StateLayout.at(tmp_path / "state")
    layout.root.mkdir(parents=True)
    conf_dir = write_spark_conf(layout)
    environment = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "SPARK_CONF_DIR": str(conf_dir),
    }
    record = ensure_engine(layout, environment, code_fingerprint(conf_dir, environment), 600)
    assert _alive(layout, record.supervisor_pid, record.server_pid)
    shutil.rmtree(layout.root)
    deadline = time.monotonic() + RECORDING_STOP_SECONDS + 30
    while _alive(layout, record.supervisor_pid, record.server_pid):
        assert time.monotonic() < deadline, "the engine of a deleted state folder did not stop"
        time.sleep(0.5)
