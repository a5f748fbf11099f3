"""The run lock of a state folder: one run, `engine stop` or idle shutdown at a time."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator

from .layout import StateLayout


@contextlib.contextmanager
def hold_run_lock(layout: StateLayout) -> Iterator[bool]:
    """Hold the state folder's lock; yields False (without waiting) when someone else holds it.

    The Derby metastore admits one process at a time, and the warm engine must not be stopped
    under a run: runs, `laktory-pulumi engine stop` and the engine's idle shutdown all take it.
    """
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
