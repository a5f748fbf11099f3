"""`laktory-pulumi run`: a pipeline on Spark Declarative Pipelines (SDP), on this machine.

The runner lays out the deployed workspace (notebooks and metadata, from the deploy code),
writes an SDP spec and the Spark config, and runs the pipeline in a `spark-submit` subprocess
(`sdp_driver.py`, launched like `spark-pipelines`), printing progress from its events and
ending with a summary and a `RunState`. The spec it writes also runs with the official CLI:
`SPARK_CONF_DIR=<state>/spark-conf LAKTORY_WORKSPACE_ROOT=<state>/workspace
LAKTORY_DLT_BACKEND=sdp spark-pipelines run --spec <state>/spark-pipeline.yml`.

The facts about pyspark 4.3's SDP this design rests on (launch, spec, configuration, catalog,
storage, exactly-once, selections, failures, events, query functions, schemas, CDC) are in
docs/sdp.md.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Literal

import pyspark

from ..analysis.command import check_deep
from ..loader import load_stack
from ..metadata import WORKSPACE_ROOT_ENV
from ..models import Pipeline
from .events import Event, parse
from .layout import StateLayout
from .report import RunReport
from .spec import pipeline_configuration, write_spark_conf, write_spec
from .workspace import lay_out_workspace

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 3
EXIT_INTERRUPTED = 130
BACKEND_ENV = "LAKTORY_DLT_BACKEND"
# Run by spark-submit, not imported: it needs the Spark Connect session spark-submit sets up.
DRIVER = Path(__file__).with_name("sdp_driver.py")


def run_command(args: argparse.Namespace) -> int:
    """The `run` subcommand; returns the exit code."""
    stack = load_stack(args.project, args.stack, only=[args.pipeline])
    pipeline = stack.pipelines[args.pipeline]
    if not Path(args.landing).is_dir():
        print(f"no landing folder at {args.landing}: pass --landing with the folder events land in")
        return EXIT_USAGE
    unknown = [name for name in args.table if name not in {t.name for t in pipeline.tables}]
    if unknown:
        known = ", ".join(t.name for t in pipeline.tables)
        print(f"no table {', '.join(unknown)} in {pipeline.name}; its tables: {known}")
        return EXIT_USAGE
    # Pre-flight: every table's plan analysed by Spark before the pipeline starts.
    check_deep(stack, Path(args.project), Path(args.landing), [pipeline.name], need_inputs=False)
    layout = StateLayout.at(args.state)
    selected = selected_tables(pipeline, args.table)
    with _exclusive(layout) as acquired:
        if not acquired:
            print(f"another run is using {layout.root}; wait for it or pick another --state")
            return EXIT_BUSY
        return run_pipeline(
            pipeline,
            layout,
            notebooks_dir=Path(args.project).resolve() / "notebooks",
            laktory_root=stack.config.laktory_root,
            landing=Path(args.landing),
            full_refresh=args.full_refresh,
            tables=selected,
        )


def selected_tables(pipeline: Pipeline, names: list[str]) -> list[str]:
    """`--table` names with everything they read, and their quarantine tables, in build order."""
    chosen: list[str] = []
    for name in names:
        table = pipeline.table(name)
        for needed in [*pipeline.upstream(table), table]:
            for dataset in (needed.name, needed.quarantine_name if needed.quarantine else None):
                if dataset and dataset not in chosen:
                    chosen.append(dataset)
    return chosen


def run_pipeline(
    pipeline: Pipeline,
    layout: StateLayout,
    *,
    notebooks_dir: Path,
    laktory_root: str,
    landing: Path,
    full_refresh: bool = False,
    tables: list[str] | None = None,
) -> int:
    """Run `pipeline` once (or until Ctrl-C when continuous); print progress and a summary."""
    _repair_interrupted_metastore(layout)
    workspace = lay_out_workspace(layout.workspace, pipeline, notebooks_dir, laktory_root)
    configuration = pipeline_configuration(pipeline, laktory_root, landing, layout)
    write_spec(layout, pipeline, workspace.notebooks, configuration)
    conf_dir = write_spark_conf(layout)
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.stop_request.unlink(missing_ok=True)
    log_file = layout.logs / f"{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}.log"
    command = _driver_command(layout, pipeline, landing, full_refresh, tables or [])
    environment = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "SPARK_CONF_DIR": str(conf_dir),
        WORKSPACE_ROOT_ENV: str(workspace.root),
        BACKEND_ENV: "sdp",
    }
    report = RunReport(pipeline=pipeline.name, log_file=log_file)
    mode = "continuously (Ctrl-C stops)" if pipeline.continuous else "once"
    print(f"running {pipeline.name} {mode} on Spark Declarative Pipelines; log: {log_file}")
    status = _supervise(command, environment, layout, log_file, report, pipeline.continuous)
    state = report.state(status)
    state.write(layout.root)
    for line in report.summary(state):
        print(line)
    if status == "FAILED":
        where, reason = report.failure or ("", "unknown error")
        subject = f"table {where}" if where else f"pipeline {pipeline.name}"
        print(f"{subject}: {reason}")
    print(f"full log: {log_file}")
    if status == "FAILED":
        return EXIT_FAILED
    return EXIT_INTERRUPTED if status == "STOPPED" else 0


def _repair_interrupted_metastore(layout: StateLayout) -> None:
    """Remove a metastore whose creation was killed: Derby refuses to boot it (XBM0A).

    Derby writes `service.properties` last when it creates a database; without it, the first
    run was killed before any table existed, so there is nothing to keep.
    """
    if layout.metastore.is_dir() and not (layout.metastore / "service.properties").exists():
        shutil.rmtree(layout.metastore)


def _driver_command(
    layout: StateLayout,
    pipeline: Pipeline,
    landing: Path,
    full_refresh: bool,
    tables: list[str],
) -> list[str]:
    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    command = [
        str(spark_class),
        "org.apache.spark.deploy.SparkPipelines",
        str(DRIVER),
        "--spec",
        str(layout.spec_file),
    ]
    if tables:
        # SDP rejects a dataset in both selections; a full refresh also runs what it names.
        command += ["--full-refresh" if full_refresh else "--refresh", ",".join(tables)]
    elif full_refresh:
        command.append("--full-refresh-all")
    if pipeline.continuous:
        command += [
            "--continuous",
            "--watch",
            str(landing.expanduser().resolve()),
            "--stop-file",
            str(layout.stop_request),
        ]
    return command


def _supervise(
    command: list[str],
    environment: dict[str, str],
    layout: StateLayout,
    log_file: Path,
    report: RunReport,
    continuous: bool,
) -> Literal["COMPLETED", "FAILED", "STOPPED"]:
    """Run the driver, fold its events into `report`, and handle Ctrl-C.

    The driver gets its own process group, so the terminal's Ctrl-C reaches only this process:
    a continuous run is asked to stop after its current update (a second Ctrl-C, or any
    Ctrl-C of a triggered run, ends the process group at once, which exactly-once checkpoints
    make safe). SIGTERM ends it at once too, rather than leaving the JVMs behind.
    """
    events: queue.Queue[Event | None] = queue.Queue()
    terminated = threading.Event()

    def on_sigterm(signum: int, frame: object) -> None:
        terminated.set()
        raise KeyboardInterrupt

    previous_handler = signal.signal(signal.SIGTERM, on_sigterm)
    with log_file.open("w", encoding="utf-8", errors="replace") as log:
        process = subprocess.Popen(
            command,
            cwd=layout.root,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        lock = threading.Lock()
        readers = [
            threading.Thread(target=_pump, args=(process.stdout, log, lock, events), daemon=True),
            threading.Thread(target=_pump, args=(process.stderr, log, lock, None), daemon=True),
        ]
        for reader in readers:
            reader.start()
        stopping = False
        while True:
            try:
                event = events.get(timeout=0.5)
                if event is None:
                    break
                report.handle(event)
                if event.kind == "update_ended" and event.state == "COMPLETED":
                    report.state("COMPLETED").write(layout.root)
            except queue.Empty:
                if process.poll() is not None and not readers[0].is_alive():
                    break
            except KeyboardInterrupt:
                if continuous and not stopping and not terminated.is_set():
                    stopping = True
                    layout.stop_request.touch()
                    print("stopping after the current update (Ctrl-C again to stop now)")
                else:
                    stopping = True
                    _terminate(process)
        process.wait()
        for reader in readers:
            reader.join(timeout=5)
    signal.signal(signal.SIGTERM, previous_handler)
    layout.stop_request.unlink(missing_ok=True)
    if report.failure is not None:
        return "FAILED"
    if stopping:
        return "STOPPED"
    if process.returncode != 0 or report.updates_completed == 0:
        report.failure = ("", f"Spark ended (exit code {process.returncode}) before running it")
        return "FAILED"
    return "COMPLETED"


def _pump(
    stream: IO[bytes] | None,
    log: IO[str],
    lock: threading.Lock,
    events: queue.Queue[Event | None] | None,
) -> None:
    """Copy a stream into the log, line by line; hand event lines to `events`."""
    if stream is None:
        return
    for raw in stream:
        line = raw.decode("utf-8", errors="replace")
        with lock:
            log.write(line)
            log.flush()
        if events is not None:
            event = parse(line)
            if event is not None:
                events.put(event)
    if events is not None:
        events.put(None)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """End the driver's whole process group (JVMs included)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def _exclusive(layout: StateLayout) -> Iterator[bool]:
    """Hold the state folder's lock for the run; yields False when another run holds it."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
