"""Ten table tests of the stock pipeline against running the whole pipeline ten times.

What a data engineer checking ten cases of a pipeline does without `laktory-pulumi test`: land
each case's events and run the whole pipeline (`laktory-pulumi run pl-stock-prices
--full-refresh`), ten times. Ours: the ten tests, each building only the tables between its
given rows and its table, in one `laktory-pulumi test` command. Both are new CLI processes, as a
user types them, each on its own state folder's warm engine (started by an untimed first
call); the baseline's ten runs land a small slice of the real events (50 prices and the
metadata), so neither side is measured on data volume.

The ten tests: the six the stock pipeline ships, and four of them again under other names.

Run: .venv/bin/python bench/bench_table_tests.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))

from _timing import machine, report

REPO = Path(__file__).resolve().parent.parent
PIPELINE = "pl-stock-prices"
CLI = str(Path(sys.executable).with_name("laktory-pulumi"))
PRICES = REPO / "data" / "stock_prices" / "stock_prices_hourly.jsonl"
METADATA = REPO / "data" / "stock_metadata" / "stock_metadata.jsonl"
EVENTS = Path("events") / "yahoo-finance"
TESTS = 10


def ten_tests_project(root: Path) -> Path:
    """A project whose stock pipeline file holds ten tests (the shipped ones, then copies)."""
    root.mkdir(parents=True)
    for file in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copyfile(REPO / file, root / file)
    (root / "notebooks").symlink_to(REPO / "notebooks", target_is_directory=True)
    text = (REPO / "stacks" / "pipelines" / f"{PIPELINE}.yaml").read_text()
    shipped = yaml.safe_load(text)["tests"]
    extra = [{**test, "name": f"{test['name']}_again"} for test in shipped[: TESTS - len(shipped)]]
    lines = yaml.safe_dump(extra, sort_keys=False).splitlines()
    text += "".join(f"  {line}\n" for line in lines)
    shutil.copytree(REPO / "stacks" / "tests", root / "stacks" / "tests")  # rows files
    (root / "stacks" / "pipelines").mkdir(parents=True)
    (root / "stacks" / "pipelines" / f"{PIPELINE}.yaml").write_text(text)
    return root


def land(landing: Path) -> None:
    for name, source, lines in (
        ("stock_price", PRICES, 50),
        ("stock_metadata", METADATA, None),
    ):
        folder = landing / EVENTS / name
        folder.mkdir(parents=True, exist_ok=True)
        kept = source.read_text().splitlines()[:lines]
        (folder / "case.json").write_text("\n".join(kept) + "\n")


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-table-tests-") as folder:
        root = Path(folder)
        project = ten_tests_project(root / "project")
        test_state, run_state, landing = root / "test-state", root / "run-state", root / "landing"
        land(landing)
        test = [CLI, "test", "--project", str(project), "--state", str(test_state)]
        run = [
            *(CLI, "run", PIPELINE, "--project", str(project), "--landing", str(landing)),
            *("--state", str(run_state), "--full-refresh"),
        ]
        try:
            timed(test)  # starts the tests' engine
            timed(run)  # starts the runs' engine, and its pre-flight analysis
            ours = timed(test)
            baseline = sum(timed(run) for _ in range(TESTS))
        finally:
            for state in (test_state, run_state):
                subprocess.run([CLI, "engine", "stop", "--state", str(state)], check=False)
    print(f"machine: {machine()}; {TESTS} tests of {PIPELINE}, warm engines")
    report(f"{TESTS} table tests vs {TESTS} whole-pipeline runs", ours, baseline)
    print(f"ten tests absolute: {ours:.1f} s (target: well under 60 s)")


if __name__ == "__main__":
    main()
