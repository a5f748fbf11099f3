"""Every fault ends a run in bounded time, with one line naming what is lost (issue #23).

- `--remote` to a closed port, and to a port where a plain TCP service listens: refused in
  seconds, the address named, before the pipeline is even loaded.
- The local engine's JVM killed with SIGKILL mid-run: the run ends at once naming the lost
  engine, and the next run starts a new one and gives exact counts. The state folder of that
  run is `My Drive #1/state`: a space and a `#` in the path the engine is given.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
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
from laktory_pulumi.local.layout import StateLayout
from laktory_pulumi.local.spec import java_option, spark_defaults

BOUND_SECONDS = 30.0
ROWS = 400


def _remote_run(tmp_path: Path, url: str) -> tuple[int, float]:
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    started = time.monotonic()
    code = main(
        [
            "run",
            "pl-stock-prices",
            "--stack",
            "dev",
            "--landing",
            str(landing),
            "--state",
            str(tmp_path / "state"),
            "--remote",
            url,
            "--storage",
            str(tmp_path / "storage"),
        ]
    )
    return code, time.monotonic() - started


def test_a_closed_port_is_refused_in_seconds_naming_the_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once this socket is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, seconds = _remote_run(tmp_path, f"sc://127.0.0.1:{port}")
    assert code != 0 and seconds < BOUND_SECONDS
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"sc://127.0.0.1:{port}" in lines[0] and "nothing accepts connections" in lines[0]
    assert not (tmp_path / "state").exists(), "a refused run writes nothing"


@pytest.fixture
def plain_listener() -> Iterator[int]:
    """A TCP service that accepts connections and never says a word (not gRPC)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()
    server.close()


def test_a_plain_tcp_listener_is_refused_in_seconds_naming_the_address(
    tmp_path: Path, plain_listener: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, seconds = _remote_run(tmp_path, f"sc://127.0.0.1:{plain_listener}")
    assert code != 0 and seconds < BOUND_SECONDS
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"sc://127.0.0.1:{plain_listener}" in lines[0]
    assert "does not answer as a Spark Connect (gRPC) server" in lines[0]


def test_the_jvm_options_quote_the_state_folder(tmp_path: Path) -> None:
    layout = StateLayout.at(tmp_path / "My Drive #1" / "state")
    options = spark_defaults(layout)["spark.driver.extraJavaOptions"]
    # Split as Spark's launcher splits it (quotes and backslash escapes, like a POSIX shell).
    assert shlex.split(options)[0] == f"-Dderby.system.home={layout.metastore.parent}"
    assert shlex.split(java_option('-Da=b "c" d\\e')) == ['-Da=b "c" d\\e']


@pytest.mark.slow
@pytest.mark.spark
def test_a_killed_engine_ends_the_run_at_once_and_the_next_run_counts_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = "pl-killed"
    text = bronze_silver_yaml(pipeline, "killed", "{name: r, expression: symbol IS NOT NULL}")
    project = make_project(tmp_path / "project", text, pipeline)
    landing, state = tmp_path / "landing", tmp_path / "My Drive #1" / "state"
    land(landing, STOCK_EVENTS, "prices.json", stock_lines()[:ROWS])
    command = [sys.executable, "-m", "laktory_pulumi.cli", "run", pipeline]
    command += ["--project", str(project), "--stack", "dev"]
    command += ["--landing", str(landing), "--state", str(state)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    printed: list[str] = []
    killed_at = None
    try:
        for line in process.stdout:
            printed.append(line.rstrip("\n"))
            if "brz_prices" in line and "running" in line:
                record = json.loads((state / "engine" / "server.json").read_text())
                os.kill(record["server_pid"], signal.SIGKILL)
                killed_at = time.monotonic()
                break
        assert killed_at is not None, "\n".join(printed)
        printed += process.stdout.read().splitlines()
        process.wait(timeout=BOUND_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert time.monotonic() - killed_at < BOUND_SECONDS
    assert process.returncode == 1, printed
    lost = [line for line in printed if "local Spark engine" in line and "stopped during" in line]
    assert len(lost) == 1, printed
    assert f"server pid {record['server_pid']}" in lost[0]
    assert run_state(state).status == "FAILED"

    # The next run starts a new engine; every row lands exactly once.
    assert run(project, pipeline, landing, state) == 0
    assert "local Spark engine: starting" in capsys.readouterr().out
    tables = run_state(state).tables
    assert tables["brz_prices"].rows_total == ROWS
    assert tables["slv_prices"].rows_total == ROWS


@pytest.mark.slow
def test_the_driver_gives_up_on_an_absent_server_in_seconds(tmp_path: Path) -> None:
    # pyspark's own retries would wait ten minutes and more; the driver's are bounded, and it
    # ends with a failed update naming the server, whatever client threads remain.
    from laktory_pulumi.local.events import parse
    from laktory_pulumi.local.runner import DRIVER
    from laktory_pulumi.local.spec import write_spec
    from laktory_pulumi.models import Pipeline

    layout = StateLayout.at(tmp_path / "state")
    spec = write_spec(layout, Pipeline(name="p"), [], {})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"sc://127.0.0.1:{port}"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(DRIVER), "--spec", str(spec), "--remote", url],
        capture_output=True,
        text=True,
        timeout=BOUND_SECONDS * 2,
    )
    assert time.monotonic() - started < BOUND_SECONDS
    assert done.returncode == 1
    events = [event for line in done.stdout.splitlines() if (event := parse(line))]
    assert [(e.kind, e.state) for e in events] == [("update_ended", "FAILED")]
    assert events[0].error is not None and url in events[0].error
