"""Incremental runs: a full local run over 100 landed files, then a run after 1 more lands.

The second run must process only the new file's rows (read from the run's own report) and
take at most a quarter of the full run's time. Both are whole `laktory-pulumi run` commands on
Spark Declarative Pipelines, as a user times them: each attempt has a new state folder, so the
full run starts the state's local engine (the Spark Connect server JVM and its metastore) and
the second run finds it warm (see laktory_pulumi/local/engine.py).

Run: .venv/bin/python bench/bench_incremental.py [--events 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _spark import local_spark
from _timing import machine, report
from generate_events import EVENTS_SUBDIR, write_events

from laktory_pulumi.local.engine import stop_engine
from laktory_pulumi.local.layout import StateLayout
from laktory_pulumi.local.run_state import RunState

REPO = Path(__file__).resolve().parent.parent
PIPELINE = "pl-stock-prices"
# The real metadata events of four symbols, which the pipeline's silver-star table joins.
METADATA = REPO / "data" / "stock_metadata" / "stock_metadata.jsonl"
METADATA_SUBDIR = Path("events") / "yahoo-finance" / "stock_metadata"
FILES = 100


def run(landing: Path, state: Path) -> float:
    """One `laktory-pulumi run`; its wall time."""
    command = [
        str(Path(sys.executable).parent / "laktory-pulumi"),
        *("run", PIPELINE, "--project", str(REPO), "--stack", "dev"),
        *("--landing", str(landing), "--state", str(state)),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the 100 files")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="laktory-bench-incremental-"))
    try:
        # 101 files from one generator run, so the last one holds new keys, not duplicates.
        staged = write_events(
            local_spark(), root / "staged", args.events * (FILES + 1) // FILES, FILES + 1
        )
        files = sorted(staged.glob("part-*.json"))
        new_file = files.pop()
        new_rows = sum(1 for _ in new_file.open())
        full_times, increment_times = [], []
        for attempt in range(args.repeat):
            landing, state = root / f"landing-{attempt}", root / f"state-{attempt}"
            events = landing / EVENTS_SUBDIR
            events.mkdir(parents=True)
            for file in files:
                (events / file.name).symlink_to(file)
            (landing / METADATA_SUBDIR).mkdir(parents=True)
            (landing / METADATA_SUBDIR / METADATA.name).symlink_to(METADATA)
            full_times.append(run(landing, state))
            (events / new_file.name).symlink_to(new_file)
            increment_times.append(run(landing, state))
            processed = RunState.read(state).tables["brz_stock_prices"].rows_written
            assert processed == new_rows, f"the second run processed {processed}, not {new_rows}"
            stop_engine(StateLayout.at(state))
            shutil.rmtree(state)
        print(f"machine: {machine()}; {args.events:,} events in {FILES} files, then 1 file")
        print(f"second run processed exactly the new file's {new_rows:,} rows in every attempt")
        full, increment = statistics.median(full_times), statistics.median(increment_times)
        report("incremental, run after 1 new file vs full run over 100", increment, full, 0.25)
    finally:
        for state in root.glob("state-*"):
            stop_engine(StateLayout.at(state))
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
