"""The supervisor of a warm local engine: `python -m laktory_pulumi.local.engine_server`.

Started by `engine.ensure_engine` in its own session, with the run's environment
(`SPARK_HOME`, `SPARK_CONF_DIR`, `PYSPARK_PYTHON`, ...). It starts the Spark Connect server
JVM from pyspark's jars, records it once its port answers, and then watches it:

- the JVM exits (crash, kill): the record is removed and the supervisor exits;
- SIGTERM or SIGINT (`laktory-pulumi engine stop`): the JVM is stopped;
- idle: no run has started or ended for the idle timeout (the latest run's, else
  `--idle-seconds`) and the run lock is free; the lock is held while the JVM stops, so no run
  can connect to a server that is going away.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyspark

from .class_archive import ClassArchive, class_archive, keep_recorded_archive
from .engine import (
    CONNECT_SERVER_CLASS,
    EngineRecord,
    idle_timeout,
    last_used_file,
    port_answers,
    read_record,
    record_file,
    write_record,
)
from .layout import StateLayout
from .run_lock import hold_run_lock

IDLE_CHECK_SECONDS = 5.0
STOP_SECONDS = 20.0
RECORDING_STOP_SECONDS = 120.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_command(layout: StateLayout, port: int) -> list[str]:
    """`spark-submit` of the Spark Connect server, bound to loopback on `port`.

    Static config (Hive catalog, Derby metastore, warehouse) comes from the state folder's
    `spark-defaults.conf`, named with `--properties-file` (the JVM's `SPARK_CONF_DIR` may be
    the class archive's empty folder). The application name holds the state folder:
    `process_alive` checks it, so a pid reused by another program is never taken for this
    server.
    """
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    return [
        str(spark_submit),
        *("--class", CONNECT_SERVER_CLASS),
        *("--properties-file", str(layout.spark_conf_dir / "spark-defaults.conf")),
        *("--name", f"laktory-pulumi engine {layout.root}"),
        *("--conf", f"spark.connect.grpc.binding.port={port}"),
        *("--conf", "spark.connect.grpc.binding.address=127.0.0.1"),
    ]


def server_environment(
    layout: StateLayout, archive: ClassArchive | None, recorder_pid: int
) -> dict[str, str]:
    """The server JVM's environment: with the class archive (`class_archive.py`), if any.

    With an archive the JVM's `SPARK_CONF_DIR` is the archive's empty folder (the class path
    must match the archive's), so the state folder's logging setup is named explicitly.
    `SPARK_SUBMIT_OPTS` reaches the server's JVM only, not spark-submit's launcher JVM.
    """
    environment = dict(os.environ)
    if archive is None:
        return environment
    try:
        archive.prepare()
    except OSError:  # a cache folder this user cannot write: start without the archive
        return environment
    options = [
        environment.get("SPARK_SUBMIT_OPTS", ""),
        f"-Dlog4j2.configurationFile={(layout.spark_conf_dir / 'log4j2.properties').as_uri()}",
        *archive.java_options(recorder_pid),
    ]
    environment["SPARK_SUBMIT_OPTS"] = " ".join(option for option in options if option)
    environment["SPARK_CONF_DIR"] = str(archive.conf_dir)
    return environment


def _stop(server: subprocess.Popen[bytes], grace: float) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _idle_for(layout: StateLayout) -> float:
    try:
        return time.time() - last_used_file(layout).stat().st_mtime
    except OSError:
        return 0.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="laktory-pulumi engine server")
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--idle-seconds", type=float, required=True)
    parser.add_argument("--fingerprint", required=True)
    args = parser.parse_args(argv)
    layout = StateLayout.at(args.state)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())

    port = _free_port()
    archive = class_archive(os.environ)
    environment = server_environment(layout, archive, os.getpid())
    recording = "-XX:ArchiveClassesAtExit" in environment.get("SPARK_SUBMIT_OPTS", "")
    server = subprocess.Popen(
        server_command(layout, port),
        cwd=layout.root,
        env=environment,
        stdin=subprocess.DEVNULL,
    )
    # A JVM recording the class archive writes it while it exits: give it time to.
    grace = RECORDING_STOP_SECONDS if recording else STOP_SECONDS
    try:
        while not port_answers(port):
            if server.poll() is not None or stop.wait(0.2):
                return 1
        write_record(
            layout,
            EngineRecord(
                supervisor_pid=os.getpid(),
                server_pid=server.pid,
                port=port,
                fingerprint=args.fingerprint,
                started_at=time.time(),
                idle_seconds=args.idle_seconds,
            ),
        )
        last_used_file(layout).touch()
        print(f"engine: Spark Connect server {server.pid} on port {port}", flush=True)
        next_idle_check = time.monotonic() + IDLE_CHECK_SECONDS
        while not stop.wait(0.5):
            if server.poll() is not None:
                print(f"engine: the server exited ({server.returncode})", flush=True)
                return 1
            if time.monotonic() < next_idle_check:
                continue
            next_idle_check = time.monotonic() + IDLE_CHECK_SECONDS
            if not layout.root.is_dir():
                # The state folder was deleted (a full reset): no run can use this server again,
                # and its idle clock (a file in that folder) is gone with it.
                print("engine: its state folder is gone, stopping", flush=True)
                return 0
            idle_seconds = idle_timeout(layout, args.idle_seconds)
            if _idle_for(layout) < idle_seconds:
                continue
            with hold_run_lock(layout) as free:
                if free and _idle_for(layout) >= idle_seconds:
                    print("engine: idle timeout, stopping", flush=True)
                    _forget(layout)
                    _stop(server, grace)
                    return 0
        print("engine: asked to stop", flush=True)
        return 0
    finally:
        _forget(layout)
        _stop(server, grace)
        if (
            recording
            and archive is not None
            and keep_recorded_archive(archive, os.getpid(), server.returncode)
        ):
            print(f"engine: recorded the JVM's class archive {archive.file}", flush=True)


def _forget(layout: StateLayout) -> None:
    """Remove the record if it is this supervisor's."""
    record = read_record(layout)
    if record is not None and record.supervisor_pid == os.getpid():
        record_file(layout).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
