"""What the driver inside `spark-submit` tells the runner, one JSON line at a time.

The driver's stdout reaches the runner through the JVM that launched it, mixed with whatever
else prints there; a marked line is an event, any other line is only log.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MARKER = "laktory-event: "

EventKind = Literal["update_started", "flow", "progress", "table_counts", "update_ended"]


@dataclass(frozen=True)
class Event:
    """One thing that happened in a run.

    - `update_started`: an update (one incremental run of the graph) begins; `update` numbers it.
    - `flow`: a flow changed state (`state`: QUEUED, RUNNING, COMPLETED, FAILED, EXCLUDED, ...).
    - `progress`: a micro-batch of a streaming flow ended; `rows` read, `metrics` observed.
    - `table_counts`: a table's figures after the update, in `metrics`: rows and rescued rows
      before and after, observed rule failures, whether it is a materialized view.
    - `update_ended`: `state` COMPLETED or FAILED; `error` says why it failed.
    """

    kind: EventKind
    update: int = 0
    table: str | None = None
    state: str | None = None
    rows: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def emit(event: Event) -> None:
    """Print an event where the runner will find it."""
    sys.stdout.write(MARKER + json.dumps(asdict(event)) + "\n")
    sys.stdout.flush()


def parse(line: str) -> Event | None:
    """The event of a marked line, None for any other line."""
    start = line.find(MARKER)
    if start < 0:
        return None
    try:
        data = json.loads(line[start + len(MARKER) :])
    except json.JSONDecodeError:
        return None
    return Event(**data)


def table_name(dataset: str) -> str:
    """`spark_catalog.finance.brz` (as SDP names flows and tables) -> `brz`."""
    return dataset.strip("`").split(".")[-1].strip("`")
