"""`laktory-pulumi engine status|stop`: what the warm local engine of a state folder is doing."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .engine import (
    STALE_CODE,
    code_fingerprint,
    idle_timeout,
    last_used_file,
    read_record,
    stop_engine,
    why_not_usable,
)
from .layout import StateLayout
from .run_lock import hold_run_lock
from .runner import EXIT_BUSY, EXIT_USAGE
from .target import state_folder_problem


def engine_command(action: str, state: Path) -> int:
    """Print the engine's status, or stop it (unless a run is using it); the exit code."""
    problem = state_folder_problem(state)
    if problem:
        print(f"--state: {problem}", file=sys.stderr)
        return EXIT_USAGE
    layout = StateLayout.at(state)
    if action == "status":
        print(engine_status(layout))
        return 0
    if not layout.root.is_dir():
        print(f"no engine: {layout.root} does not exist")
        return 0
    with hold_run_lock(layout) as acquired:
        if not acquired:
            print(f"a run is using the engine of {layout.root}; stop the run first")
            return EXIT_BUSY
        stopped = stop_engine(layout)
    if stopped is None:
        print(f"no engine running for {layout.root}")
    else:
        print(f"stopped the engine of {layout.root} (server pid {stopped.server_pid})")
    return 0


def engine_status(layout: StateLayout) -> str:
    """One line: running (pid, port, uptime, idle time, code current or not) or not."""
    record = read_record(layout)
    if record is None:
        return f"engine of {layout.root}: not running"
    fingerprint = code_fingerprint(layout.spark_conf_dir, os.environ)
    reason = why_not_usable(layout, record, fingerprint)
    if reason and reason != STALE_CODE:
        return f"engine of {layout.root}: not usable ({reason}); the next run replaces it"
    now = time.time()
    try:
        idle = now - last_used_file(layout).stat().st_mtime
    except OSError:
        idle = now - record.started_at
    code = "other code: the next run replaces it" if reason else "current code"
    return (
        f"engine of {layout.root}: running, server pid {record.server_pid}, {record.url}, "
        f"up {now - record.started_at:.0f} s, idle {idle:.0f} s "
        f"(stops after {idle_timeout(layout, record.idle_seconds):g} s idle), {code}"
    )
