"""What a local run reports: written by `laktory-pulumi run`, read by `graph --run-state`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from ..models.base import Model

RUN_STATE_FILE = Path("runs") / "latest.json"


class ExpectationCounts(Model):
    """How one expectation fared on the rows of this run."""

    action: Literal["WARN", "DROP", "FAIL"] = Field(description="The expectation's action.")
    passed_rows: int = Field(default=0, description="Rows meeting the expectation.")
    failed_rows: int = Field(
        default=0, description="Rows failing it: kept (WARN), dropped (DROP) or fatal (FAIL)."
    )


class TableRun(Model):
    """One table's figures for a run."""

    rows_written: int = Field(description="Rows this run added (all rows of a recomputed view).")
    rows_total: int = Field(description="Rows in the table after the run.")
    quarantined: int = Field(default=0, description="Rows this run sent to the quarantine table.")
    rescued: int = Field(default=0, description="Rows with a rescued-data value (bad records).")
    expectations: dict[str, ExpectationCounts] = Field(
        default_factory=dict, description="Per expectation, by name."
    )
    error: str | None = Field(default=None, description="Why the table failed, if it did.")


class RunFailure(Model):
    """Why a run failed, and where: the table and the place it is declared."""

    table: str | None = Field(default=None, description="The table that failed, when known.")
    location: str = Field(
        description="`file:line:column: tables[i]` of the table's declaration, or the file."
    )
    error: str = Field(description="The first line of the error.")

    def lines(self, pipeline: str) -> list[str]:
        """What `run` prints: where the table (or pipeline) is declared first, as every located
        error does (`file:line:column: tables[i]: table t: error`), on one line."""
        subject = f"table {self.table}" if self.table else f"pipeline {pipeline}"
        return [f"{self.location}: {subject}: {self.error}"]


class RunState(Model):
    """The summary of one local run."""

    pipeline: str = Field(description="Pipeline name.")
    status: Literal["COMPLETED", "FAILED", "STOPPED"] = Field(description="How the run ended.")
    started_at: str = Field(description="ISO 8601 start time.")
    seconds: float = Field(description="Duration.")
    tables: dict[str, TableRun] = Field(default_factory=dict, description="Per table, by name.")
    log_file: str | None = Field(default=None, description="The full Spark log of the run.")
    failure: RunFailure | None = Field(
        default=None, description="Why and where the run failed (status FAILED)."
    )

    def write(self, state_dir: Path) -> Path:
        """Write atomically, so a reader never sees half a file."""
        path = state_dir / RUN_STATE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        partial.write_text(self.model_dump_json(indent=2))
        partial.replace(path)
        return path

    @classmethod
    def read(cls, state_dir: Path) -> RunState:
        """Read the latest run's state of a state folder."""
        path = state_dir / RUN_STATE_FILE
        if not path.exists():
            raise FileNotFoundError(f"no run state at {path}: run `laktory-pulumi run` first")
        return cls.model_validate_json(path.read_bytes())  # bytes: bad UTF-8 is a ValidationError
