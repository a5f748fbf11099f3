"""Helpers of the local-runner tests (`test_local_*.py`): landing data, running, reading tables.

No tests here. Tables are read with Spark straight from the warehouse folder: a streaming
table's commit log (`_spark_metadata`) then decides which files count, as in the pipeline.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from laktory_pulumi.cli import main
from laktory_pulumi.local.run_state import RunState

REPO = Path(__file__).resolve().parent.parent
STOCK_DATA = REPO / "data" / "stock_prices" / "stock_prices_hourly.jsonl"
STOCK_EVENTS = Path("events") / "yahoo-finance" / "stock_price"
STOCK_METADATA = REPO / "data" / "stock_metadata" / "stock_metadata.jsonl"
STOCK_METADATA_EVENTS = Path("events") / "yahoo-finance" / "stock_metadata"
STOCK_DATABASE = "finance"
# The silver columns of stacks/pipelines/pl-stock-prices.yaml and their declared types.
SILVER_COLUMNS = {
    "created_at": "timestamp",
    "symbol": "string",
    "open": "double",
    "close": "double",
    "high": "double",
    "low": "double",
    "volume": "double",
}


def stock_lines() -> list[str]:
    """The real events, one JSON text per line."""
    return STOCK_DATA.read_text().splitlines()


def split_evenly(lines: list[str], parts: int) -> list[list[str]]:
    """`parts` consecutive chunks of `lines`, the first ones one line longer when uneven."""
    size, extra = divmod(len(lines), parts)
    chunks, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(lines[start:end])
        start = end
    return chunks


def land(landing: Path, events: Path, name: str, lines: list[str]) -> Path:
    """Land one event file the way producers should: written aside, then renamed into place."""
    folder = landing / events
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.partial"
    partial.write_text("\n".join(lines) + "\n")
    return partial.replace(folder / name)


def land_stock_metadata(landing: Path) -> Path:
    """Land the bundled metadata events, which pl-stock-prices joins with the prices."""
    lines = STOCK_METADATA.read_text().splitlines()
    return land(landing, STOCK_METADATA_EVENTS, STOCK_METADATA.name, lines)


def run(project: Path, pipeline: str, landing: Path, state: Path, *extra: str) -> int:
    """`laktory-pulumi run` in this process (the Spark work happens in its subprocess)."""
    return main(
        [
            "run",
            pipeline,
            "--project",
            str(project),
            "--stack",
            "dev",
            "--landing",
            str(landing),
            "--state",
            str(state),
            *extra,
        ]
    )


def run_state(state: Path) -> RunState:
    return RunState.read(state)


def read_table(spark: SparkSession, state: Path, table: str, database: str) -> DataFrame:
    """A table of a local run, as its readers in the pipeline see it."""
    folder = state / "warehouse" / (table if database == "default" else f"{database}.db/{table}")
    # Part files written before a schema grew lack its new columns: merge the files' schemas,
    # as the table's catalog schema does, instead of taking one file's at random.
    return spark.read.option("mergeSchema", "true").parquet(str(folder))


def rows_of(frame: DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    """The rows of `columns`, sorted: a table's content without its run-time columns."""
    return sorted(
        (tuple(row) for row in frame.select(*columns).collect()),
        key=lambda row: tuple((value is None, str(value)) for value in row),
    )


def bronze_silver_yaml(name: str, target: str, expectation: str, *, more: str = "") -> str:
    """A pipeline file of the stock events into bronze, then a silver table of their symbol
    with one expectation (a flow mapping such as `{name: r, expression: ..., action: FAIL}`);
    `more` is appended under the silver table (its own keys, or further tables)."""
    return f"""\
name: {name}
target: {target}
libraries:
  - notebook: {{path: /pipelines/dlt_brz_template.py}}
  - notebook: {{path: /pipelines/dlt_slv_template.py}}
tables:
  - name: brz_prices
    builder:
      layer: BRONZE
      event_source: {{name: stock_price, producer: {{name: yahoo-finance}}}}
  - name: slv_prices
    builder:
      layer: SILVER
      table_source: {{name: brz_prices}}
    columns:
      - {{name: symbol, type: string, spark_func_name: coalesce, spark_func_args: [data.symbol]}}
    expectations:
      - {expectation}
{more}"""


def make_project(root: Path, pipeline_yaml: str, name: str) -> Path:
    """A Pulumi project with one pipeline file and the repository's notebooks."""
    root.mkdir(parents=True, exist_ok=True)
    for file in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copyfile(REPO / file, root / file)
    (root / "stacks" / "pipelines").mkdir(parents=True, exist_ok=True)
    (root / "stacks" / "pipelines" / f"{name}.yaml").write_text(pipeline_yaml)
    (root / "notebooks").symlink_to(REPO / "notebooks", target_is_directory=True)
    return root


def utc_day(timestamp: str) -> str:
    """The UTC calendar day of an ISO 8601 time with offset."""
    return datetime.fromisoformat(timestamp).astimezone(timezone.utc).date().isoformat()


def stock_days(lines: list[str]) -> set[tuple[str, str]]:
    """(symbol, UTC day) of every event, computed without Spark."""
    days = set()
    for line in lines:
        data = json.loads(line)["data"]
        days.add((data["symbol"], utc_day(data["created_at"])))
    return days


def _children(pid: int) -> list[int]:
    """Direct children of a process, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is parenthesised and may hold spaces; the parent id follows it.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return found


def kill_run_when(
    project: Path,
    pipeline: str,
    landing: Path,
    state: Path,
    trigger: Callable[[str], bool],
    delay: float,
    timeout: float = 120.0,
) -> list[str]:
    """Start `laktory-pulumi run`, SIGKILL it and all its processes `delay` s after `trigger`.

    Returns the lines it printed. Fails when the trigger never comes or the run ends first.
    """
    command = [sys.executable, "-m", "laktory_pulumi.cli", "run", pipeline]
    command += ["--project", str(project), "--stack", "dev"]
    command += ["--landing", str(landing), "--state", str(state)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        printed.append(line.rstrip("\n"))
        if trigger(line):
            time.sleep(delay)
            break
        if time.monotonic() > deadline:
            break
    else:
        raise AssertionError("the run ended before the kill point:\n" + "\n".join(printed))
    # The runner puts the Spark processes in their own group: kill both groups, like a power cut.
    groups = {process.pid, *_children(process.pid)}
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, printed
    return printed
