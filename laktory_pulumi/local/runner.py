"""`laktory-pulumi run`: a pipeline on Spark Declarative Pipelines (SDP), on this machine.

The runner lays out the deployed workspace (notebooks and metadata, from the deploy code),
writes an SDP spec and the Spark config, makes sure the state folder's warm Spark Connect
server is up (`engine.py`; or uses the server of `--remote`), and runs the pipeline with the
driver (`sdp_driver.py`) as that server's client, printing progress from its events and ending
with a summary and a `RunState`. The spec it writes also runs with the official CLI:
`SPARK_CONF_DIR=<state>/spark-conf LAKTORY_WORKSPACE_ROOT=<state>/workspace
LAKTORY_DLT_BACKEND=sdp spark-pipelines run --spec <state>/spark-pipeline.yml`.

The facts about pyspark 4.3's SDP this design rests on (launch, spec, configuration, catalog,
storage, exactly-once, selections, failures, events, query functions, schemas, CDC) are in
docs/sdp.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

import pyspark

from ..analysis.command import check_deep
from ..deploy.secrets import SecretValues
from ..loader import LoadError, load_stack
from ..loader.variables import needing_secret_values
from ..loader.yaml_source import parse_yaml
from ..metadata import WORKSPACE_ROOT_ENV, metadata_bytes
from ..models import Pipeline
from ..runtime.flows import flows_of
from ..runtime.quarantine import quarantine_datasets, quarantine_flows
from .connection import remote_problem
from .engine import (
    EngineError,
    EngineRecord,
    code_fingerprint,
    ensure_engine,
    idle_seconds_default,
    mark_connected,
    mark_disconnected,
    package_fingerprint,
    process_alive,
    stop_engine,
)
from .engine import (
    log_file as engine_log_file,
)
from .events import Event, parse
from .layout import StateLayout
from .report import RunReport
from .run_lock import hold_run_lock
from .secret_configuration import driver_environment, split_configuration
from .spec import pipeline_configuration, write_spark_conf, write_spec
from .target import RunTarget, remote_from_environment, state_folder_problem
from .workspace import lay_out_workspace

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 3
EXIT_INTERRUPTED = 130
if TYPE_CHECKING:
    from ..loader.stack import Stack

BACKEND_ENV = "LAKTORY_DLT_BACKEND"
# Run as a script by the venv's Python, not imported: it is a Spark Connect client process.
DRIVER = Path(__file__).with_name("sdp_driver.py")
# Set by pyspark's launchers; inherited, they would make our processes clients of another server.
_CLIENT_MODE_ENV = {"SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE"}


def run_command(args: argparse.Namespace) -> int:
    """The `run` subcommand; returns the exit code."""
    state_problem = state_folder_problem(Path(args.state))
    if state_problem:
        print(f"--state: {state_problem}", file=sys.stderr)
        return EXIT_USAGE
    remote = getattr(args, "remote", None) or remote_from_environment()
    target = RunTarget.parse(remote, getattr(args, "storage", None), Path(args.landing))
    if isinstance(target, str):
        print(target, file=sys.stderr)
        return EXIT_USAGE
    if target.remote:
        # Before the seconds of loading and analysis: a dead or wrong address is said at once.
        problem = remote_problem(target.remote)
        if problem:
            print(problem, file=sys.stderr)
            return EXIT_FAILED
    with needing_secret_values():  # a run needs every value: none may read `[secret]`
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
    layout = StateLayout.at(args.state)
    selected = selected_tables(pipeline, args.table)
    idle = getattr(args, "idle_timeout", None)
    # Before anything is written: a pipeline whose plans do not resolve leaves no state behind.
    _preflight(stack, Path(args.project), Path(args.landing), layout)
    with hold_run_lock(layout) as acquired:
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
            reset=full_refresh_selection(pipeline, args.table) if args.full_refresh else None,
            target=target,
            idle_seconds=idle_seconds_default() if idle is None else idle,
            pipeline_file=stack.files.get(pipeline.name),
            project=Path(args.project).resolve(),
            secrets=SecretValues.of_fields(stack.secret_values),
        )


def selected_tables(pipeline: Pipeline, names: list[str]) -> list[str]:
    """`--table` names with everything they read, their flows and quarantine tables, in build
    order."""
    chosen: list[str] = []
    for name in names:
        table = pipeline.table(name)
        for needed in [*pipeline.upstream(table), table]:
            quarantine = quarantine_datasets(needed)
            # A table of listed sources is the union of one streaming table per flow on SDP.
            for dataset in [*flows_of(needed), needed.name, *quarantine]:
                if dataset not in chosen:
                    chosen.append(dataset)
    return chosen


def full_refresh_selection(pipeline: Pipeline, names: list[str]) -> list[str]:
    """The datasets `--full-refresh` empties and rebuilds: the `--table` tables and the tables
    reading them, with their flows and quarantine tables, and nothing upstream of them.

    Their upstream tables run incrementally: a full refresh of silver rebuilds it from the
    rows bronze holds, and bronze, whose landing may have lost old files to retention, keeps
    them (DLT's "full refresh selection" refreshes the tables it names, and only those). The
    tables reading a refreshed table are rebuilt from its new rows: a stream of it would
    otherwise read every rewritten row a second time. To rebuild an upstream table too, name
    it with `--table`. No names: every table.
    """
    named = names or [table.name for table in pipeline.tables]
    readers = [
        table.name
        for table in pipeline.tables
        if table.name not in named
        and any(upstream.name in named for upstream in pipeline.upstream(table))
    ]
    chosen: list[str] = []
    for name in [*named, *readers]:
        table = pipeline.table(name)
        quarantine = quarantine_datasets(table)
        for dataset in [*flows_of(table), table.name, *quarantine]:
            if dataset not in chosen:
                chosen.append(dataset)
    return chosen


def lost_storage(pipeline: Pipeline, layout: StateLayout) -> list[str]:
    """Tables whose streaming data was deleted while their checkpoint stayed.

    A streaming table's checkpoint says which files it has read; with its folder (and the
    file sink's commit log, `_spark_metadata`) gone, the next run would write only new rows
    and later runs fail on the log's missing batches. Such a table must be rebuilt.
    """
    database = pipeline.target or "default"
    folder = layout.warehouse if database == "default" else layout.warehouse / f"{database}.db"
    checkpoints = layout.storage / "_checkpoints"
    lost = []
    for table in pipeline.tables:
        quarantine = quarantine_datasets(table)
        for dataset in [*flows_of(table), table.name, *quarantine]:
            # A committed batch: the table has written rows (a stream that never had data
            # has a checkpoint, but no table folder yet).
            committed = any(checkpoints.glob(f"*/{database}/{dataset}/**/commits/[0-9]*"))
            if committed and _sink_log_lost(folder / dataset / "_spark_metadata"):
                lost.append(table.name)
                break
    return lost


def republish_lost_sinks(pipeline: Pipeline, layout: StateLayout) -> list[str]:
    """Forget the checkpoint of each local sink whose folder was deleted; returns their names.

    A sink's flow checkpoint (`_checkpoints/<sink>/<flow>`) says which of its table's rows were
    published; with the sink's files (and their `_spark_metadata` log) gone, the flow would
    publish only new rows, and the rows published before would be lost to the sink. Without
    its checkpoint the flow streams the table from its first row again, into an empty folder:
    each row once. (On Databricks a sink's target is outside the pipeline and nothing here
    applies: DLT clears no sink, "create_sink" page.)
    """
    checkpoints = layout.storage / "_checkpoints"
    republished = []
    for sink in pipeline.sinks:
        checkpoint = checkpoints / sink.name
        committed = any(checkpoint.glob(f"{sink.flow_name}/**/commits/[0-9]*"))
        if committed and _sink_log_lost(layout.sinks / sink.name / "_spark_metadata"):
            shutil.rmtree(checkpoint)
            republished.append(sink.name)
    return republished


UNION_FLOWS_FILE = "_union_flows.json"
"""The append flows of each table fed by several sources, as of each pipeline's last completed
run: `{pipeline name: {table: [flow, ...]}}` (one state folder serves every pipeline of a
project)."""


def union_flows(pipeline: Pipeline) -> dict[str, list[str]]:
    """The append flows of each table of `pipeline` fed by several sources."""
    return {table.name: flows_of(table) for table in pipeline.tables if table.builder.appends}


def changed_unions(pipeline: Pipeline, layout: StateLayout) -> dict[str, list[str]]:
    """The tables whose sources changed since the last completed run, each with the tables
    that stream it.

    Locally a downstream stream of a table fed by several sources reads the union of its
    flows' streams (`runtime.dlt_sdp`), and Spark refuses to go on from a checkpoint taken
    with another number of sources ("There are [2] sources in the checkpoint offsets and now
    there are [3]"). DLT streams the one target table, so a source added or removed changes
    nothing downstream. Here those readers are rebuilt in full from the target's rows: each
    row once, and the new flow reads its own files from the start, as on Databricks.
    """
    before = _recorded_union_flows(layout).get(pipeline.name)
    if before is None:
        return {}
    changed = {}
    for name, flows in union_flows(pipeline).items():
        if name not in before or before[name] == flows:
            continue
        readers = [
            table.name
            for table in pipeline.tables
            if any(
                getattr(source, "name", None) == name and source.read_as_stream
                for source in [
                    *table.builder.sources,
                    *(join.other for join in table.builder.joins),
                ]
            )
        ]
        if readers:
            changed[name] = readers
    return changed


def _recorded_union_flows(layout: StateLayout) -> dict[str, dict[str, list[str]]]:
    """What `record_union_flows` kept, per pipeline; {} when nothing readable was kept."""
    try:
        recorded = json.loads((layout.storage / UNION_FLOWS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(recorded, dict) or not all(
        isinstance(flows, dict) for flows in recorded.values()
    ):
        return {}  # the earlier one-pipeline record: the next completed run writes it anew
    return recorded


def record_union_flows(pipeline: Pipeline, layout: StateLayout) -> None:
    """Keep the flows of the pipeline's tables fed by several sources, for `changed_unions`,
    beside those of the other pipelines run on this state folder (a run of another pipeline
    in between must not hide a change of this one's sources)."""
    recorded = _recorded_union_flows(layout)
    recorded[pipeline.name] = union_flows(pipeline)
    layout.storage.mkdir(parents=True, exist_ok=True)
    (layout.storage / UNION_FLOWS_FILE).write_text(json.dumps(recorded, sort_keys=True))


def _sink_log_lost(log: Path) -> bool:
    """Whether a streaming table's commit log is gone, or starts after its first batch (the
    folder was deleted and a run wrote a few batches since: every later read fails on the
    missing batch 0). A compacted log (`<n>.compact`) may have dropped batch 0 itself."""
    if not log.is_dir():
        return True
    names = [path.name for path in log.iterdir()]
    return bool(names) and not any(name == "0" or name.endswith(".compact") for name in names)


def run_pipeline(
    pipeline: Pipeline,
    layout: StateLayout,
    *,
    notebooks_dir: Path,
    laktory_root: str,
    landing: Path,
    full_refresh: bool = False,
    tables: list[str] | None = None,
    target: RunTarget | None = None,
    idle_seconds: float | None = None,
    pipeline_file: Path | None = None,
    project: Path | None = None,
    secrets: SecretValues | None = None,
    reset: list[str] | None = None,
) -> int:
    """Run `pipeline` once (or until Ctrl-C when continuous); print progress and a summary.

    Configuration values holding one of `secrets` are written to no file of the state folder
    (`local.secret_configuration`). With `full_refresh` and `tables`, `reset` names the
    datasets refreshed in full (`full_refresh_selection`; all of `tables` when None), the
    others of `tables` running incrementally.
    """
    target = target or RunTarget()
    idle_seconds = idle_seconds_default() if idle_seconds is None else idle_seconds
    secrets = secrets or SecretValues()
    workspace = lay_out_workspace(layout.workspace, pipeline, notebooks_dir, laktory_root, secrets)
    configuration, hidden = split_configuration(
        pipeline_configuration(pipeline, laktory_root, landing, layout), secrets
    )
    write_spec(layout, pipeline, workspace.notebooks, configuration, storage=target.storage)
    conf_dir = write_spark_conf(layout)
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.stop_request.unlink(missing_ok=True)
    log_file = layout.logs / f"{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}.log"
    environment = {
        **{key: value for key, value in os.environ.items() if key not in _CLIENT_MODE_ENV},
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "SPARK_CONF_DIR": str(conf_dir),
        WORKSPACE_ROOT_ENV: str(workspace.root),
        BACKEND_ENV: "sdp",
    }
    quarantines = {t.name: t.quarantine_name for t in pipeline.tables if t.quarantine}
    report = RunReport(pipeline=pipeline.name, log_file=log_file, quarantines=quarantines)
    report.quarantine_flows = {t.name: quarantine_flows(t) for t in pipeline.tables}
    mode = "continuously (Ctrl-C stops)" if pipeline.continuous else "once"
    where = f"the Spark Connect server {target.remote}" if target.remote else "local Spark"
    print(
        f"running {pipeline.name} {mode} on Spark Declarative Pipelines ({where}); log: {log_file}"
    )
    _say_databricks_only(pipeline)
    server_log: Path | None = None
    engine_lost: Callable[[], str] | None = None
    if target.remote:
        remote = target.remote
    else:
        remove_interrupted_checkpoint_writes(layout.storage)
        server_log = engine_log_file(layout)
        fingerprint = code_fingerprint(conf_dir, environment)
        try:
            engine = ensure_engine(layout, environment, fingerprint, idle_seconds)
        except EngineError as error:
            print(str(error))
            return EXIT_FAILED
        remote = engine.url
        engine_lost = _engine_watch(layout, engine, server_log)
        mark_connected(layout, idle_seconds)
    lost = [] if target.remote else lost_storage(pipeline, layout)
    for sink in [] if target.remote else republish_lost_sinks(pipeline, layout):
        print(f"sink {sink}: its files were deleted; publishing every row of its table again")
    if lost and not (full_refresh and not tables):
        # Rebuilt from their sources with the tables reading them; the others run as asked.
        rebuilt = full_refresh_selection(pipeline, lost)
        print(
            f"{', '.join(lost)}: the table's stored data was deleted; rebuilding it from its "
            f"sources, with the tables reading it ({', '.join(rebuilt)})"
        )
        everything = tables or selected_tables(pipeline, [table.name for table in pipeline.tables])
        earlier = (reset if reset is not None else tables) if full_refresh else []
        reset = [*earlier, *(name for name in rebuilt if name not in earlier)]
        full_refresh = True
        tables = everything
    unions = {} if target.remote or full_refresh else changed_unions(pipeline, layout)
    if unions:
        readers = [name for names in unions.values() for name in names]
        rebuilt = full_refresh_selection(pipeline, readers)
        print(
            f"{', '.join(unions)}: its sources changed since the last run; rebuilding the tables "
            f"that stream it from its rows ({', '.join(rebuilt)})"
        )
        tables = tables or selected_tables(pipeline, [table.name for table in pipeline.tables])
        reset = [*(reset or []), *(name for name in rebuilt if name not in (reset or []))]
        full_refresh = True
    if full_refresh and tables and reset:
        # The tables reading a refreshed one are refreshed with it, selected or not.
        tables = [*tables, *(name for name in reset if name not in tables)]
    command = _driver_command(
        layout, pipeline, landing, full_refresh, tables or [], remote, reset=reset
    )
    status, ended_itself = _supervise(
        command,
        driver_environment(environment, hidden),
        layout,
        log_file,
        report,
        pipeline.continuous,
        server_log,
        engine_lost,
    )
    if not target.remote:
        if ended_itself:
            mark_disconnected(layout)
        if not ended_itself or idle_seconds <= 0:
            # A killed client leaves its flows running on the server: never reuse that one.
            stop_engine(layout)
    if status == "COMPLETED" and not target.remote:
        record_union_flows(pipeline, layout)
    if status == "FAILED":
        report.locate_failure(table_locator(pipeline, pipeline_file, project))
    state = report.state(status)
    state.write(layout.root)
    for line in report.summary(state):
        print(line)
    if status == "FAILED" and state.failure is not None:
        for line in state.failure.lines(pipeline.name):
            print(line)
    print(f"full log: {log_file}")
    if status == "FAILED":
        return EXIT_FAILED
    return EXIT_INTERRUPTED if status == "STOPPED" else 0


def _engine_watch(layout: StateLayout, engine: EngineRecord, server_log: Path) -> Callable[[], str]:
    """Why the run's engine is lost ('' while it serves): its JVM or supervisor has exited."""
    marker = str(layout.root)

    def lost() -> str:
        if process_alive(engine.server_pid, marker) and process_alive(
            engine.supervisor_pid, marker
        ):
            return ""
        return (
            f"the local Spark engine (server pid {engine.server_pid}, {engine.url}) stopped "
            f"during the run; its log: {server_log}. The next run starts a new one, and the "
            "tables keep exactly what their checkpoints committed"
        )

    return lost


def _say_databricks_only(pipeline: Pipeline) -> None:
    """Clustering, row filters and masks exist on Databricks only: said once, never claimed."""
    from ..models.table_settings import databricks_only_notice

    notice = databricks_only_notice(pipeline)
    if notice is not None:
        print(notice)


def _preflight(stack: Stack, project: Path, landing: Path, layout: StateLayout) -> None:
    """Every table's plan analysed by Spark's analyser before the pipeline starts.

    The analysis needs a classic JVM (the streaming checks are not exposed over Spark Connect),
    which costs seconds: it is skipped when this exact pipeline (its metadata bytes) and code
    already passed on this state folder (each pipeline of the folder has its own stamp), so an
    unchanged pipeline reruns at the warm engine's speed, and the first run after an edit pays
    for it.
    """
    (pipeline,) = stack.pipelines.values()
    digest = hashlib.sha256(metadata_bytes(pipeline) + package_fingerprint().encode())
    stamp = digest.hexdigest()
    stamp_file = layout.preflight_stamp(pipeline.name)
    if stamp_file.is_file() and stamp_file.read_text() == stamp:
        return
    check_deep(stack, project, landing, [pipeline.name], need_inputs=False)
    stamp_file.parent.mkdir(parents=True, exist_ok=True)
    stamp_file.write_text(stamp)


def table_locator(
    pipeline: Pipeline, pipeline_file: Path | None, project: Path | None
) -> Callable[[str], str]:
    """Where a table is declared (`file:line:column: tables[i]`), for a run's failure line."""
    marks: dict[str, str] = {}
    shown = str(pipeline_file or pipeline.name)
    if pipeline_file is not None:
        if project is not None and pipeline_file.is_relative_to(project):
            shown = str(pipeline_file.relative_to(project))
        with contextlib.suppress(LoadError, OSError, UnicodeDecodeError):
            source = parse_yaml(pipeline_file.read_text(), shown)
            for index, table in enumerate(pipeline.tables):
                line, column = source.mark_of(("tables", index, "name"))
                location = f"{shown}:{line}:{column}: tables[{index}]"
                marks[table.name] = location
                marks[table.quarantine_name] = location

    def locate(table: str) -> str:
        return marks.get(table, shown)

    return locate


def remove_interrupted_checkpoint_writes(storage: Path) -> None:
    """Delete the temporary files a killed run left in its streaming checkpoints.

    Spark writes each offset and commit log entry as `.<batch>.<uuid>.tmp` (and its `.crc`),
    then renames it. A kill between the two leaves the temporary file, and a query starting
    its first batch then refuses the folder (STATE_STORE_CHECKPOINT_LOCATION_NOT_EMPTY, seen
    after a kill while silver wrote its first offset). Nothing else writes there: the caller
    holds the run lock and no client of the engine is running.
    """
    checkpoints = storage / "_checkpoints"
    if not checkpoints.is_dir():
        return
    for path in checkpoints.rglob(".*.tmp*"):
        if path.is_file() and (path.name.endswith(".tmp") or path.name.endswith(".tmp.crc")):
            path.unlink(missing_ok=True)


def _driver_command(
    layout: StateLayout,
    pipeline: Pipeline,
    landing: Path,
    full_refresh: bool,
    tables: list[str],
    remote: str,
    reset: list[str] | None = None,
) -> list[str]:
    """The driver, a plain Python client of the server at `remote` (no JVM of its own)."""
    command = [sys.executable, str(DRIVER), "--spec", str(layout.spec_file), "--remote", remote]
    if tables and full_refresh:
        # SDP rejects a dataset in both selections; a full refresh also runs what it names.
        emptied = reset if reset is not None else tables
        kept = [name for name in tables if name not in emptied]
        command += ["--full-refresh", ",".join(emptied)]
        if kept:
            command += ["--refresh", ",".join(kept)]
    elif tables:
        command += ["--refresh", ",".join(tables)]
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
    server_log: Path | None = None,
    engine_lost: Callable[[], str] | None = None,
) -> tuple[Literal["COMPLETED", "FAILED", "STOPPED"], bool]:
    """Run the driver, fold its events into `report`, and handle Ctrl-C.

    Returns how the run ended, and whether the driver ended on its own (was not killed).

    `engine_lost` says why the local engine can no longer serve the run ('' while it can): it is
    asked every half second, and a lost engine ends the run at once, naming it, rather than
    leaving the driver to wait on a server that is gone.

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
        driver_done = threading.Event()
        if server_log is not None:
            # The server's own lines of this run (flow starts, progress) belong in the run's log.
            start = server_log.stat().st_size if server_log.exists() else 0
            readers.append(
                threading.Thread(
                    target=_follow_file,
                    args=(server_log, start, log, lock, driver_done),
                    daemon=True,
                )
            )
        for reader in readers:
            reader.start()
        stopping = False
        killed = False
        lost = ""
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
                if engine_lost is not None and not lost:
                    lost = engine_lost()
                    if lost:
                        killed = True
                        _terminate(process, grace=2.0)
            except KeyboardInterrupt:
                if continuous and not stopping and not terminated.is_set():
                    stopping = True
                    layout.stop_request.touch()
                    print("stopping after the current update (Ctrl-C again to stop now)")
                else:
                    stopping = True
                    killed = True
                    _terminate(process)
        process.wait()
        driver_done.set()
        for reader in readers:
            reader.join(timeout=5)
    signal.signal(signal.SIGTERM, previous_handler)
    layout.stop_request.unlink(missing_ok=True)
    ended_itself = not killed and process.returncode >= 0
    if lost:
        report.failure = ("", lost)  # whatever the driver said of the server it lost
    if report.failure is not None:
        return "FAILED", ended_itself
    if stopping:
        return "STOPPED", ended_itself
    if process.returncode != 0 or report.updates_completed == 0:
        report.failure = ("", f"Spark ended (exit code {process.returncode}) before running it")
        return "FAILED", ended_itself
    return "COMPLETED", ended_itself


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


def _follow_file(
    path: Path, start: int, log: IO[str], lock: threading.Lock, done: threading.Event
) -> None:
    """Copy what is appended to `path` after `start` into the log, until `done` (then drain)."""
    pending = b""
    with path.open("rb") as source:
        source.seek(start)
        while True:
            finished = done.wait(0.2)
            pending += source.read()
            # Whole lines only, so that the driver's lines never land inside one.
            cut = len(pending) if finished else pending.rfind(b"\n") + 1
            if cut:
                with lock:
                    log.write(pending[:cut].decode("utf-8", errors="replace"))
                    log.flush()
                pending = pending[cut:]
            if finished:
                return


def _terminate(process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """End the driver's whole process group (JVMs included), killing it after `grace` s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
