"""The warm local engine: one Spark Connect server per state folder, kept alive between runs.

Starting Spark is most of a small local run: the server JVM, its Hive client and the Derby
metastore take 12-15 s on 2 cores, while an update with nothing new takes a few seconds
(docs/sdp.md). So `laktory-pulumi run` starts a Spark Connect server from pyspark's own jars
(`org.apache.spark.sql.connect.service.SparkConnectServer`, what `sbin/start-connect-server.sh`
runs) on first use, and later runs connect to it as clients, as `spark-pipelines --remote` does.

The rules that keep a warm server safe:

- One per state folder: the server's catalog is that folder's Derby metastore (a Derby
  database admits one JVM), its warehouse and its `SPARK_CONF_DIR`. Nothing is shared between
  two state folders, and the run lock (`run.lock`) keeps two runs off one server.
- Started by a supervisor (`engine_server.py`), a small Python process that owns the JVM,
  records it in `engine/server.json` once its port answers, and stops it after an idle timeout
  (taking the run lock first, so it never stops a server a run is using) or on SIGTERM
  (`laktory-pulumi engine stop`).
- Never reused blindly: the record names the supervisor's and the server's process ids and a
  fingerprint of the code (package files, pyspark version, Python, Spark config). A run
  replaces the server when a process is gone, the port does not answer, the fingerprint
  differs, or the previous run's client was killed mid-run: its pipeline may still be running
  on the server (a Spark Connect session outlives a client killed with SIGKILL), so the server
  is replaced rather than shared with those flows.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pyspark

from .layout import StateLayout

IDLE_ENV = "LAKTORY_ENGINE_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 900.0
STARTUP_TIMEOUT_SECONDS = 180.0
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
STALE_CODE = "it was started from other code or Spark config"
_PACKAGE = Path(__file__).resolve().parent.parent
# Supervisors started by this process, kept so that their exit is reaped (no zombie that
# would still look alive in /proc).
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


class EngineError(Exception):
    """The local engine could not be started; the message says where its log is."""


@dataclass(frozen=True)
class EngineRecord:
    """A running engine, as its supervisor recorded it once the server's port answered."""

    supervisor_pid: int
    server_pid: int
    port: int
    fingerprint: str
    started_at: float
    idle_seconds: float

    @property
    def url(self) -> str:
        """The Spark Connect URL clients use."""
        return f"sc://127.0.0.1:{self.port}"


def record_file(layout: StateLayout) -> Path:
    return layout.engine / "server.json"


def log_file(layout: StateLayout) -> Path:
    return layout.engine / "server.log"


def last_used_file(layout: StateLayout) -> Path:
    """Touched at the start and end of every run; the idle timeout counts from its mtime."""
    return layout.engine / "last-used"


def in_use_file(layout: StateLayout) -> Path:
    """Exists while a run's client is connected: left behind, it means the client was killed."""
    return layout.engine / "in-use"


def read_record(layout: StateLayout) -> EngineRecord | None:
    """The recorded engine, or None when there is none (or the record is unreadable)."""
    try:
        return EngineRecord(**json.loads(record_file(layout).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_record(layout: StateLayout, record: EngineRecord) -> None:
    """Write atomically: a reader never sees half a record."""
    partial = record_file(layout).with_suffix(".partial")
    partial.write_text(json.dumps(asdict(record)))
    partial.replace(record_file(layout))


def idle_seconds_default() -> float:
    """`LAKTORY_ENGINE_IDLE_SECONDS`, else 15 minutes."""
    value = os.environ.get(IDLE_ENV, "")
    try:
        return max(float(value), 0.0) if value else DEFAULT_IDLE_SECONDS
    except ValueError:
        return DEFAULT_IDLE_SECONDS


@functools.cache
def package_fingerprint() -> str:
    """A hash of the package's files (its code and data), once per process."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(_PACKAGE)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def code_fingerprint(spark_conf_dir: Path, environment: Mapping[str, str]) -> str:
    """What a server's behaviour depends on besides the run's own inputs.

    The package's files (the server's Python workers import them), pyspark's version, the
    Python and Java used, and the Spark config the server read at start-up.
    """
    digest = hashlib.sha256(package_fingerprint().encode())
    for path in sorted(spark_conf_dir.glob("*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(pyspark.__version__.encode())
    digest.update(sys.executable.encode())
    digest.update(environment.get("JAVA_HOME", "").encode())
    return digest.hexdigest()[:32]


def process_alive(pid: int, marker: str) -> bool:
    """Whether `pid` runs and its command line holds `marker` (so a reused pid never counts)."""
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    # The state letter follows the parenthesised command name; Z and X are exited processes.
    if stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}:
        return False
    return marker in command


def port_answers(port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on the loopback port."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout):
        return True
    return False


def why_not_usable(layout: StateLayout, record: EngineRecord | None, fingerprint: str) -> str:
    """Why the recorded engine cannot serve a run; '' when it can."""
    marker = str(layout.root)
    if record is None:
        return "no engine is running"
    if not process_alive(record.supervisor_pid, marker):
        return "its supervisor is gone"
    if not process_alive(record.server_pid, marker):
        return "the Spark server died"
    if record.fingerprint != fingerprint:
        return STALE_CODE
    if in_use_file(layout).exists():
        return "the previous run was killed while connected to it"
    if not port_answers(record.port):
        return f"its port {record.port} does not answer"
    return ""


def ensure_engine(
    layout: StateLayout,
    environment: Mapping[str, str],
    fingerprint: str,
    idle_seconds: float,
    say: Callable[[str], None] = print,
) -> EngineRecord:
    """The state folder's engine, started or replaced when it cannot serve this run.

    The caller holds the run lock.
    """
    record = read_record(layout)
    reason = why_not_usable(layout, record, fingerprint)
    if not reason:
        say(f"local Spark engine: warm (pid {record.server_pid}, port {record.port})")  # type: ignore[union-attr]
        return record  # type: ignore[return-value]
    if record is not None:
        say(f"local Spark engine: replacing it, {reason}")
        stop_engine(layout)
    return _start(layout, environment, fingerprint, idle_seconds, say)


def _start(
    layout: StateLayout,
    environment: Mapping[str, str],
    fingerprint: str,
    idle_seconds: float,
    say: Callable[[str], None],
) -> EngineRecord:
    layout.engine.mkdir(parents=True, exist_ok=True)
    record_file(layout).unlink(missing_ok=True)
    in_use_file(layout).unlink(missing_ok=True)
    repair_interrupted_metastore(layout)
    kept = "stopped after this run" if idle_seconds <= 0 else f"kept {idle_seconds:g} s when idle"
    say(f"local Spark engine: starting ({kept}; log: {log_file(layout)})")
    command = [
        sys.executable,
        "-m",
        "laktory_pulumi.local.engine_server",
        *("--state", str(layout.root)),
        *("--idle-seconds", str(idle_seconds if idle_seconds > 0 else 1e9)),
        *("--fingerprint", fingerprint),
    ]
    with log_file(layout).open("ab") as log:
        supervisor = subprocess.Popen(
            command,
            cwd=layout.root,
            env=dict(environment),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _STARTED[supervisor.pid] = supervisor
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        record = read_record(layout)
        if record is not None and record.supervisor_pid == supervisor.pid:
            return record
        if supervisor.poll() is not None:
            raise EngineError(
                f"the local Spark engine did not start (exit code {supervisor.returncode}); "
                f"see {log_file(layout)}"
            )
        time.sleep(0.2)
    _kill_group(supervisor.pid)
    raise EngineError(
        f"the local Spark engine did not answer within {STARTUP_TIMEOUT_SECONDS:g} s; "
        f"see {log_file(layout)}"
    )


def stop_engine(layout: StateLayout, timeout: float = 150.0) -> EngineRecord | None:
    """Stop the state folder's engine and wait until its processes are gone.

    The supervisor, asked with SIGTERM, stops the JVM; past `timeout` its whole process
    group (the JVM included) is killed. The timeout is above the supervisor's own grace for
    a JVM writing the class archive as it exits (`engine_server.RECORDING_STOP_SECONDS`).
    Returns the record of what was stopped.
    """
    record = read_record(layout)
    if record is None:
        return None
    marker = str(layout.root)
    pids = [record.supervisor_pid, record.server_pid]
    if any(process_alive(pid, marker) for pid in pids):
        # The supervisor leads its own session; the JVM is in its group.
        _signal_group(record.supervisor_pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(process_alive(pid, marker) for pid in pids):
            _reap()
            time.sleep(0.1)
        if any(process_alive(pid, marker) for pid in pids):
            _kill_group(record.supervisor_pid)
    _reap()
    record_file(layout).unlink(missing_ok=True)
    in_use_file(layout).unlink(missing_ok=True)
    return record


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def _kill_group(group: int) -> None:
    _signal_group(group, signal.SIGKILL)
    time.sleep(0.2)
    _reap()


def _reap() -> None:
    for pid, process in list(_STARTED.items()):
        if process.poll() is not None:
            del _STARTED[pid]


def idle_file(layout: StateLayout) -> Path:
    """The idle timeout of the latest run, in seconds: the supervisor reads it at each check."""
    return layout.engine / "idle-seconds"


def idle_timeout(layout: StateLayout, default: float) -> float:
    """The idle timeout the latest run asked for, else `default`."""
    try:
        return float(idle_file(layout).read_text())
    except (OSError, ValueError):
        return default


def mark_connected(layout: StateLayout, idle_seconds: float) -> None:
    """A run's client is about to connect (see `in_use_file`); its idle timeout applies."""
    layout.engine.mkdir(parents=True, exist_ok=True)
    in_use_file(layout).touch()
    last_used_file(layout).touch()
    idle_file(layout).write_text(repr(idle_seconds if idle_seconds > 0 else 1e9))


def mark_disconnected(layout: StateLayout) -> None:
    """The client ended on its own: the server holds nothing of it any more."""
    in_use_file(layout).unlink(missing_ok=True)
    last_used_file(layout).touch()


def repair_interrupted_metastore(layout: StateLayout) -> None:
    """Remove a metastore whose creation was killed: Derby refuses to boot it (XBM0A).

    Derby writes `service.properties` last when it creates a database; without it, the first
    run was killed before any table existed, so there is nothing to keep. Called only when no
    server has the metastore open.
    """
    if layout.metastore.is_dir() and not (layout.metastore / "service.properties").exists():
        shutil.rmtree(layout.metastore)
