"""The local runner's checks and its warm engine's bookkeeping, without Spark.

Processes standing in for an engine's supervisor and server are real processes (a sleeping
Python holding the state folder in its command line), and the port is a real listening
socket: the checks read /proc and connect, as they do for a real engine.
"""

from __future__ import annotations

import contextlib
import fcntl
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from laktory_pulumi.cli import main
from laktory_pulumi.loader import load_stack
from laktory_pulumi.local.engine import (
    EngineRecord,
    code_fingerprint,
    in_use_file,
    process_alive,
    read_record,
    stop_engine,
    why_not_usable,
    write_record,
)
from laktory_pulumi.local.engine_command import engine_status
from laktory_pulumi.local.events import Event
from laktory_pulumi.local.layout import StateLayout
from laktory_pulumi.local.report import RunReport
from laktory_pulumi.local.runner import EXIT_BUSY, EXIT_USAGE, table_locator
from laktory_pulumi.local.target import RunTarget, storage_root_uri

REPO = Path(__file__).resolve().parent.parent


def _run(tmp_path: Path, *extra: str, state: Path | None = None) -> list[str]:
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    return [
        *("run", "pl-stock-prices", "--project", str(REPO), "--stack", "dev"),
        *("--landing", str(landing), "--state", str(state or tmp_path / "state"), *extra),
    ]


def test_a_state_folder_that_is_a_file_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "state.txt"
    a_file.write_text("not a folder")
    for state, says in [(a_file, "is a file"), (a_file / "sub" / "dir", "lies under")]:
        assert main(_run(tmp_path, state=state)) == EXIT_USAGE
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("--state: ") and says in err[0], err
        assert "Traceback" not in err[0]
    assert main(["engine", "status", "--state", str(a_file)]) == EXIT_USAGE
    assert "is a file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--remote", "sc://127.0.0.1:15002"], "pass --storage"),
        (["--remote", "http://x:1", "--storage", "/tmp/s"], "not a Spark Connect URL"),
        (
            ["--remote", "sc://127.0.0.1:1", "--storage", "rel/dir"],
            "--storage: rel/dir is relative",
        ),
        (["--storage", "relative"], "--storage: relative is relative"),
    ],
)
def test_remote_runs_need_paths_the_server_can_reach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], says: str
) -> None:
    assert main(_run(tmp_path, *extra)) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "state").exists(), "nothing is written before the checks pass"


def test_a_relative_or_missing_landing_is_refused_with_remote(tmp_path: Path) -> None:
    storage = str(tmp_path / "storage")
    relative = RunTarget.parse("sc://h:1", storage, Path("landing"))
    assert isinstance(relative, str) and "--landing: landing is relative" in relative
    missing = RunTarget.parse("sc://h:1", storage, tmp_path / "nowhere")
    assert isinstance(missing, str) and "is not a folder" in missing
    (tmp_path / "landing").mkdir()
    target = RunTarget.parse("sc://h:1", storage, tmp_path / "landing")
    assert target == RunTarget("sc://h:1", (tmp_path / "storage").as_uri())
    assert storage_root_uri("s3a://bucket/pipelines") == "s3a://bucket/pipelines"
    assert storage_root_uri("file:///data/x") == "file:///data/x"


def test_spark_remote_names_the_server_unless_it_says_local(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARK_REMOTE", "sc://127.0.0.1:15002")
    assert main(_run(tmp_path)) == EXIT_USAGE
    assert "--remote sc://127.0.0.1:15002: pass --storage" in capsys.readouterr().err
    monkeypatch.setenv("SPARK_REMOTE", "local")
    with _run_lock_held(tmp_path / "state"):
        # No remote: the run gets as far as the state folder's lock.
        assert main(_run(tmp_path)) == EXIT_BUSY


@contextlib.contextmanager
def _run_lock_held(state: Path) -> Iterator[None]:
    """Hold a state folder's run lock, as a run in another process does."""
    state.mkdir(parents=True, exist_ok=True)
    with (state / "run.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def test_a_second_run_on_a_busy_state_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _run_lock_held(tmp_path / "state"):
        assert main(_run(tmp_path)) == EXIT_BUSY
        assert "another run is using" in capsys.readouterr().out
        assert main(["engine", "stop", "--state", str(tmp_path / "state")]) == EXIT_BUSY


def _sleeper(state: Path) -> subprocess.Popen[bytes]:
    """A process whose command line names the state folder, in its own process group."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", str(state)],
        start_new_session=True,
    )


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[tuple[StateLayout, EngineRecord, socket.socket]]:
    """A recorded engine made of two live processes and a listening port."""
    layout = StateLayout.at(tmp_path / "state")
    layout.engine.mkdir(parents=True)
    supervisor, server = _sleeper(layout.root), _sleeper(layout.root)
    # Popen returns once the child is forked, possibly before it runs Python with the state
    # folder on its command line; the engine checks that line, so wait for it (bounded).
    deadline = time.monotonic() + 10
    while not all(process_alive(p.pid, str(layout.root)) for p in (supervisor, server)):
        assert time.monotonic() < deadline, "the sleeper processes did not start"
        time.sleep(0.01)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    record = EngineRecord(
        supervisor_pid=supervisor.pid,
        server_pid=server.pid,
        port=listener.getsockname()[1],
        fingerprint="f1",
        started_at=time.time(),
        idle_seconds=60.0,
    )
    write_record(layout, record)
    yield layout, record, listener
    listener.close()
    for process in (supervisor, server):
        process.kill()
        process.wait()


def test_a_recorded_engine_is_used_only_while_it_is_whole_and_current(
    fake_engine: tuple[StateLayout, EngineRecord, socket.socket],
) -> None:
    layout, record, listener = fake_engine
    assert read_record(layout) == record
    assert why_not_usable(layout, record, "f1") == ""
    assert "other code" in why_not_usable(layout, record, "f2")
    in_use_file(layout).touch()
    assert "killed while connected" in why_not_usable(layout, record, "f1")
    in_use_file(layout).unlink()
    assert "running, server pid" in engine_status(layout)
    listener.close()
    assert "does not answer" in why_not_usable(layout, record, "f1")
    # A pid is only taken for the server when its command line names this state folder.
    assert not process_alive(record.server_pid, "/some/other/state")
    subprocess.run(["kill", "-KILL", str(record.server_pid)], check=True)
    time.sleep(0.2)
    assert "server died" in why_not_usable(layout, record, "f1")
    assert "not usable" in engine_status(layout)


def test_stopping_an_engine_ends_its_process_group_and_forgets_it(tmp_path: Path) -> None:
    layout = StateLayout.at(tmp_path / "state")
    layout.engine.mkdir(parents=True)
    # The supervisor leads its group; the server is its child, in that group.
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', "
            "sys.argv[1]]); print(p.pid, flush=True); time.sleep(120)",
            str(layout.root),
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert supervisor.stdout is not None
    server_pid = int(supervisor.stdout.readline())
    write_record(
        layout,
        EngineRecord(supervisor.pid, server_pid, 1, "f", time.time(), 60.0),
    )
    stopped = stop_engine(layout)
    supervisor.wait(timeout=10)
    assert stopped is not None and stopped.server_pid == server_pid
    assert supervisor.returncode == -signal.SIGTERM
    assert not process_alive(server_pid, str(layout.root))
    assert read_record(layout) is None
    assert "not running" in engine_status(layout)
    assert stop_engine(layout) is None


def test_the_fingerprint_follows_the_spark_config(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text("spark.sql.shuffle.partitions 4\n")
    first = code_fingerprint(conf, {})
    assert code_fingerprint(conf, {}) == first
    (conf / "spark-defaults.conf").write_text("spark.sql.shuffle.partitions 8\n")
    assert code_fingerprint(conf, {}) != first
    assert code_fingerprint(conf, {"JAVA_HOME": "/other/jdk"}) != code_fingerprint(conf, {})


def test_a_failed_run_reports_committed_tables_and_where_the_failing_one_is_declared(
    tmp_path: Path,
) -> None:
    stack = load_stack(REPO, "dev", only=["pl-stock-prices"])
    pipeline = stack.pipelines["pl-stock-prices"]
    locate = table_locator(pipeline, stack.files[pipeline.name], REPO)
    report = RunReport(pipeline=pipeline.name, log_file=tmp_path / "x.log", say=lambda _: None)
    # What the driver sends when silver fails after bronze committed its batch.
    metrics = {"rows_before": 0, "rows_total": 7012, "rescued_before": 0, "rescued_total": 0}
    report.handle(Event("table_counts", table="brz_stock_prices", metrics=metrics))
    report.handle(
        Event("update_ended", state="FAILED", table="slv_stock_prices", error="CAST_INVALID")
    )
    report.locate_failure(locate)
    state = report.state("FAILED")
    assert state.tables["brz_stock_prices"].rows_written == 7012
    assert state.failure is not None and state.failure.table == "slv_stock_prices"
    lines = (REPO / "stacks" / "pipelines" / "pl-stock-prices.yaml").read_text().splitlines()
    file, line, _column, field = state.failure.location.split(":")
    assert file == "stacks/pipelines/pl-stock-prices.yaml"
    assert "name: slv_stock_prices" in lines[int(line) - 1]
    index = [table.name for table in pipeline.tables].index("slv_stock_prices")
    assert field.strip() == f"tables[{index}]"
    assert state.failure.lines(pipeline.name) == [
        f"{state.failure.location}: table slv_stock_prices: CAST_INVALID"
    ]
    assert locate("slv_stock_prices_quarantine") == state.failure.location


def test_a_killed_checkpoint_write_is_removed_and_committed_entries_kept(tmp_path: Path) -> None:
    from laktory_pulumi.local.runner import remove_interrupted_checkpoint_writes

    offsets = tmp_path / "storage" / "_checkpoints" / "c" / "db" / "slv" / "slv" / "0" / "offsets"
    offsets.mkdir(parents=True)
    # What a kill while Spark wrote the first offset left (seen in the kill test).
    leftovers = [offsets / ".0.2a9a3940.tmp", offsets / "..0.2a9a3940.tmp.crc"]
    committed = [offsets / "0", offsets / ".0.crc", offsets.parent / "metadata"]
    for path in leftovers + committed:
        path.write_text("x")
    remove_interrupted_checkpoint_writes(tmp_path / "storage")
    assert [path.exists() for path in leftovers] == [False, False]
    assert all(path.exists() for path in committed)
    remove_interrupted_checkpoint_writes(tmp_path / "nothing-yet")
