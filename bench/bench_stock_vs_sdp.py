"""The stock pipeline's warm runs against the same tables written by hand for SDP.

Two figures, each a paired median (ours and the baseline alternate, so both see the same
machine load):

- a second run with no new data;
- a run after one new file lands (about 1/20 of the 7,012 real events).

Ours is `laktory-pulumi run pl-stock-prices` as a user types it: a new CLI process that loads
and validates the YAML, lays out the workspace, and runs the pipeline as a client of the state
folder's warm engine (a Spark Connect server kept alive between runs), then counts each
table's rows for the report. The baseline is `spark-pipelines run --spec SPEC --remote
sc://...` of `handwritten_stock/pipeline.py` (same tables, columns, filter, deduplication and
aggregation), as a client of its own Spark Connect server, started once by this script with
the same Spark config (Hive catalog on Derby, UTC, 4 shuffle partitions): both sides have a
warm server, neither pays a server start in the timed runs. The baseline still pays the
`spark-pipelines` launcher's JVM (spark-submit), as its users do; ours has no JVM on the
client side. Both first runs (everything is new) are untimed.

Run: .venv/bin/python bench/bench_stock_vs_sdp.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyspark
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from _timing import machine, paired_median_seconds, report

from laktory_pulumi.local.layout import StateLayout
from laktory_pulumi.local.run_state import RunState
from laktory_pulumi.local.spec import spark_defaults

REPO = Path(__file__).resolve().parent.parent
PIPELINE = "pl-stock-prices"
EVENTS = Path("events") / "yahoo-finance" / "stock_price"
METADATA_EVENTS = Path("events") / "yahoo-finance" / "stock_metadata"
STOCK = REPO / "data" / "stock_prices" / "stock_prices_hourly.jsonl"
METADATA = REPO / "data" / "stock_metadata" / "stock_metadata.jsonl"
SPARK_HOME = Path(pyspark.__file__).parent
FIRST_FILES = 10
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Handwritten:
    """The baseline: its spec, its Spark config, its warm Spark Connect server."""

    def __init__(self, root: Path, landing: Path) -> None:
        self.root = root
        layout = StateLayout.at(root)
        conf = root / "conf"
        conf.mkdir(parents=True)
        lines = [f"{key} {value}" for key, value in spark_defaults(layout).items()]
        (conf / "spark-defaults.conf").write_text("\n".join(lines) + "\n")
        shutil.copy(Path(__file__).parent / "handwritten_stock" / "pipeline.py", root)
        spec = {
            "name": "handwritten-stock",
            "storage": (root / "storage").as_uri(),
            "database": "default",  # SDP does not create a missing schema
            "configuration": {
                "landing": str(landing / EVENTS),
                "metadata_landing": str(landing / METADATA_EVENTS),
            },
            "libraries": [{"glob": {"include": "pipeline.py"}}],
        }
        self.spec = root / "spec.yml"
        self.spec.write_text(yaml.safe_dump(spec))
        self.environment = {
            **{k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"},
            "SPARK_HOME": str(SPARK_HOME),
            "SPARK_CONF_DIR": str(conf),
            "PYSPARK_PYTHON": sys.executable,
        }
        self.port = _free_port()
        self.server = subprocess.Popen(
            [
                *(str(SPARK_HOME / "bin" / "spark-submit"), "--class", CONNECT_SERVER),
                *("--conf", f"spark.connect.grpc.binding.port={self.port}"),
                *("--conf", "spark.connect.grpc.binding.address=127.0.0.1"),
            ],
            cwd=root,
            env=self.environment,
            stdout=(root / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while not _answers(self.port):
            assert self.server.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.5)

    def run(self) -> None:
        command = [str(SPARK_HOME / "bin" / "spark-pipelines"), "run", "--spec", str(self.spec)]
        command += ["--remote", f"sc://127.0.0.1:{self.port}"]
        done = subprocess.run(command, cwd=self.root, env=self.environment, capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(done.stdout.decode()[-2000:] + done.stderr.decode()[-2000:])

    def stop(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 1.0):
            return True
    except OSError:
        return False


def ours(landing: Path, state: Path) -> None:
    command = [str(Path(sys.executable).parent / "laktory-pulumi")]
    command += ["run", PIPELINE, "--project", str(REPO), "--stack", "dev"]
    command += ["--landing", str(landing), "--state", str(state)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="laktory-bench-sdp-"))
    lines = STOCK.read_text().splitlines()
    parts = FIRST_FILES + 2 * args.repeat + 2  # first files, then one new file per timed run
    size = -(-len(lines) // parts)
    chunks = [lines[i : i + size] for i in range(0, len(lines), size)]
    # Each side has its own landing folder and gets the same files at the same points.
    landing, state = root / "landing", root / "state"
    their_landing = root / "landing-handwritten"
    landed = {landing: 0, their_landing: 0}

    def land_next(folder: Path) -> int:
        index = landed[folder]
        landed[folder] += 1
        (folder / EVENTS).mkdir(parents=True, exist_ok=True)
        path = folder / EVENTS / f"part-{index:03d}.json"
        path.with_suffix(".partial").write_text("\n".join(chunks[index]) + "\n")
        path.with_suffix(".partial").replace(path)
        return len(chunks[index])

    # The metadata of the four symbols, which the silver-star table joins, lands once.
    for folder in landed:
        (folder / METADATA_EVENTS).mkdir(parents=True)
        shutil.copy(METADATA, folder / METADATA_EVENTS / METADATA.name)

    handwritten = None
    try:
        for _ in range(FIRST_FILES):
            land_next(landing)
            land_next(their_landing)
        handwritten = Handwritten(root / "handwritten", their_landing)
        ours(landing, state)  # starts our warm engine: untimed, like the baseline's server
        handwritten.run()

        no_new_data = paired_median_seconds(
            lambda: ours(landing, state), handwritten.run, repeat=args.repeat, warmup=0
        )
        new_rows: list[int] = []
        written: list[int] = []

        def ours_after_new_file() -> None:
            new_rows.append(land_next(landing))
            ours(landing, state)
            written.append(RunState.read(state).tables["brz_stock_prices"].rows_written)

        def baseline_after_new_file() -> None:
            land_next(their_landing)
            handwritten.run()

        one_file = paired_median_seconds(
            ours_after_new_file, baseline_after_new_file, repeat=args.repeat, warmup=0
        )
        assert written == new_rows, f"ours processed {written}, not the new {new_rows}"
        print(f"machine: {machine()}; {len(lines):,} real events, first {FIRST_FILES} files")
        print(f"each new file: {new_rows} rows, exactly what ours processed")
        report("stock, second run with no new data vs hand-written SDP", *no_new_data, 1.2)
        report("stock, run after one new file vs hand-written SDP", *one_file, 1.2)
    finally:
        subprocess.run(
            [
                str(Path(sys.executable).parent / "laktory-pulumi"),
                "engine",
                "stop",
                "--state",
                state,
            ],
            stdout=subprocess.DEVNULL,
            check=False,
        )
        if handwritten is not None:
            handwritten.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
