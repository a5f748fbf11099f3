"""What a local run prints as it goes, and the summary it ends with."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from ..runtime.dlt_sdp import ROWS_METRIC, failed_metric
from .events import Event
from .run_state import ExpectationCounts, RunFailure, RunState, TableRun

Print = Callable[[str], None]
_SHOWN_FLOW_STATES = {"RUNNING": "running", "FAILED": "failed", "SKIPPED": "skipped"}


@dataclass
class RunReport:
    """Accumulates a run's events into its `RunState`, printing progress on the way."""

    pipeline: str
    log_file: Path
    say: Print = print
    quarantines: dict[str, str] = field(default_factory=dict)
    """Each table with `quarantine: true` -> its quarantine table (`Table.quarantine_name`).
    Only these count as quarantines: a table merely named `<x>_quarantine` is x's neighbour."""
    quarantine_flows: dict[str, list[str]] = field(default_factory=dict)
    """Each table whose quarantine is fed by several flows -> those flows' datasets. Locally
    such a quarantine is the union of one streaming table per flow (a materialized view,
    rewritten whole): the rows a run quarantined are those its flows wrote."""
    started_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    tables: dict[str, TableRun] = field(default_factory=dict)
    failure: tuple[str, str] | None = None
    located_failure: RunFailure | None = None
    updates_completed: int = 0
    _clock_start: float = field(default_factory=time.monotonic)
    _read_in_update: dict[str, int] = field(default_factory=dict)
    _last_written: dict[str, int] = field(default_factory=dict)

    def handle(self, event: Event) -> None:
        """Fold one event in, printing what a person watching wants to see."""
        if event.kind == "update_started":
            self._read_in_update = {}
            if event.update > 0:
                self.say(f"update {event.update}: new files landed")
        elif event.kind == "flow" and event.table and event.state in _SHOWN_FLOW_STATES:
            self.say(f"  {event.table:<32} {_SHOWN_FLOW_STATES[event.state]}")
        elif event.kind == "progress" and event.table:
            total = self._read_in_update.get(event.table, 0) + (event.rows or 0)
            self._read_in_update[event.table] = total
            if event.rows:
                self.say(f"  {event.table:<32} batch of {event.rows:,} rows ({total:,} so far)")
        elif event.kind == "table_counts" and event.table:
            run = self._fold_counts(event.table, event.metrics)
            self.say(
                f"  {event.table:<32} {run.rows_total:,} rows "
                f"(+{self._last_written[event.table]:,} this update)"
            )
        elif event.kind == "update_ended":
            if event.state == "COMPLETED":
                self.updates_completed += 1
                self._count_quarantine()
            else:
                self.failure = (event.table or "", event.error or "unknown error")
                if event.table and event.table in self.tables:
                    self.tables[event.table].error = event.error

    def _fold_counts(self, table: str, metrics: dict[str, Any]) -> TableRun:
        written = (
            metrics["rows_total"]
            if metrics.get("materialized_view")
            else metrics["rows_total"] - metrics["rows_before"]
        )
        rescued = metrics.get("rescued_total", 0) - metrics.get("rescued_before", 0)
        self._last_written[table] = written
        previous = self.tables.get(table)
        # Updates of a continuous run add up, but a view's rows are all rewritten each time.
        carried = previous.rows_written if previous and not metrics.get("materialized_view") else 0
        run = TableRun(
            rows_written=written + carried,
            rows_total=metrics["rows_total"],
            rescued=max(rescued, 0) + (previous.rescued if previous else 0),
            expectations=dict(previous.expectations) if previous else {},
        )
        observed: dict[str, int] = metrics.get("observed", {})
        rows = observed.get(ROWS_METRIC, 0)
        for name, action in metrics.get("expectations", {}).items():
            failed = observed.get(failed_metric(name), 0)
            before = run.expectations.get(name)
            run.expectations[name] = ExpectationCounts(
                action=action,
                passed_rows=rows - failed + (before.passed_rows if before else 0),
                failed_rows=failed + (before.failed_rows if before else 0),
            )
        self.tables[table] = run
        return run

    def _count_quarantine(self) -> None:
        for name, quarantine_name in self.quarantines.items():
            run, quarantine = self.tables.get(name), self.tables.get(quarantine_name)
            flows = [self.tables.get(flow) for flow in self.quarantine_flows.get(name, [])]
            if run is not None and flows:
                run.quarantined = sum(flow.rows_written for flow in flows if flow is not None)
            elif run is not None and quarantine is not None:
                run.quarantined = quarantine.rows_written

    def locate_failure(self, locate: Callable[[str], str]) -> None:
        """Name where the failed table is declared (`locate`: table -> `file:line:col: ...`)."""
        if self.failure is not None:
            table, error = self.failure
            # A failure while the graph is defined (e.g. an event folder with no files and no
            # schema_ddl) comes with no flow; its message names the table it is about.
            if not table:
                table = _table_named_in(error, locate)
                error = error.removeprefix(f"table {table}: ") if table else error
            self.located_failure = RunFailure(
                table=table or None, location=locate(table), error=error
            )

    def state(self, status: Literal["COMPLETED", "FAILED", "STOPPED"]) -> RunState:
        """The run as `graph --run-state` reads it."""
        failure = self.located_failure
        if status == "FAILED" and failure is None and self.failure is not None:
            failure = RunFailure(
                table=self.failure[0] or None, location=self.pipeline, error=self.failure[1]
            )
        return RunState(
            pipeline=self.pipeline,
            status=status,
            started_at=self.started_at,
            seconds=round(time.monotonic() - self._clock_start, 1),
            tables=self.tables,
            log_file=str(self.log_file),
            failure=failure if status == "FAILED" else None,
        )

    def summary(self, state: RunState) -> list[str]:
        """The closing table: rows, expectations, quarantine and rescued data per table."""
        lines = [f"{state.pipeline}: {state.status.lower()} in {state.seconds:.1f} s"]
        if not state.tables:
            return lines
        width = max(len("table"), *(len(name) for name in state.tables))
        header = (
            f"  {'table':<{width}} {'written':>9} {'total':>9} {'quarantined':>11} {'rescued':>7}"
        )
        lines.append(header)
        for name, run in state.tables.items():
            lines.append(
                f"  {name:<{width}} {run.rows_written:>9,} {run.rows_total:>9,} "
                f"{run.quarantined:>11,} {run.rescued:>7,}"
            )
            for rule, counts in run.expectations.items():
                verb = {"WARN": "warned", "DROP": "dropped", "FAIL": "failed"}[counts.action]
                lines.append(
                    f"    expectation {rule} ({counts.action}): {counts.passed_rows:,} passed, "
                    f"{counts.failed_rows:,} {verb}"
                )
        return lines


def _table_named_in(error: str, locate: Callable[[str], str]) -> str:
    """The first `table NAME` of the message that `locate` knows, else ""."""
    unknown = locate("")
    for match in re.finditer(r"\btable `?([A-Za-z0-9_]+)`?", error):
        if locate(match.group(1)) != unknown:
            return match.group(1)
    return ""
