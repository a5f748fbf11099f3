"""`run --remote` on a real Spark standalone cluster: a master, two workers and a Spark
Connect server on that master, all started from pyspark's own jars on loopback.

The stock pipeline gives the same tables and counts as a local run (test_local_stock.py
checks those against the same data). Every process started here is stopped by the fixture's
finalizer, test failure or not: each is the leader of its own process group, and the group
is killed (a worker's executors and the server's Python workers are in it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from test_local_support import REPO, STOCK_METADATA, run, run_state, stock_days, stock_lines

from laktory_pulumi.local.demo import land_demo_data

pytestmark = [pytest.mark.slow, pytest.mark.spark]

SPARK_HOME = Path(pyspark.__file__).parent
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1.0):
        return True
    return False


class Cluster:
    """Processes started for one test, each in its own process group."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: list[subprocess.Popen[bytes]] = []
        conf = root / "conf"
        conf.mkdir(parents=True)
        # Small JVMs: the machine is shared, and 7,012 events need little.
        (conf / "spark-defaults.conf").write_text(
            "spark.ui.enabled false\n"
            "spark.executor.memory 512m\n"
            "spark.driver.memory 512m\n"
            "spark.sql.shuffle.partitions 4\n"
            "spark.sql.pipelines.maxFlowRetryAttempts 0\n"
            f"spark.sql.warehouse.dir {(root / 'warehouse').as_uri()}\n"
        )
        self.environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SPARK_")},
            "SPARK_HOME": str(SPARK_HOME),
            "SPARK_CONF_DIR": str(conf),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_DAEMON_MEMORY": "512m",
            "SPARK_WORKER_DIR": str(root / "work"),
            "PYSPARK_PYTHON": sys.executable,
        }

    def start(self, name: str, command: list[str]) -> None:
        log = (self.root / f"{name}.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                command,
                cwd=self.root,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        log.close()

    def wait_for(self, port: int, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not _answers(port):
            dead = [p.args for p in self.processes if p.poll() is not None]
            assert not dead, f"{dead} ended while waiting for {what}"
            assert time.monotonic() < deadline, f"{what} did not answer on port {port}"
            time.sleep(0.5)

    def stop(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in reversed(self.processes):
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def connect_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A master, two 1-core workers and a Spark Connect server on the master: its sc:// URL."""
    cluster = Cluster(tmp_path / "cluster")
    request.addfinalizer(cluster.stop)
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    master_port = _free_port()
    master = f"spark://127.0.0.1:{master_port}"
    cluster.start(
        "master",
        [
            *(spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1"),
            *("--port", str(master_port), "--webui-port", str(_free_port())),
        ],
    )
    cluster.wait_for(master_port, "the master")
    for index in range(2):
        cluster.start(
            f"worker-{index}",
            [
                *(spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1"),
                *("--cores", "1", "--memory", "512m", "--webui-port", str(_free_port()), master),
            ],
        )
    connect_port = _free_port()
    cluster.start(
        "connect-server",
        [
            *(str(SPARK_HOME / "bin" / "spark-submit"), "--class", CONNECT_SERVER),
            *("--master", master, "--name", "laktory-pulumi cluster test"),
            *("--conf", f"spark.connect.grpc.binding.port={connect_port}"),
            *("--conf", "spark.connect.grpc.binding.address=127.0.0.1"),
        ],
    )
    cluster.wait_for(connect_port, "the Spark Connect server")
    yield f"sc://127.0.0.1:{connect_port}"


def test_the_stock_pipeline_runs_on_a_standalone_cluster_through_remote(
    tmp_path: Path, connect_url: str
) -> None:
    landing, state, storage = tmp_path / "landing", tmp_path / "state", tmp_path / "storage"
    land_demo_data(REPO, landing)

    code = run(
        REPO, "pl-stock-prices", landing, state, "--remote", connect_url, "--storage", str(storage)
    )
    assert code == 0, (tmp_path / "cluster" / "connect-server.log").read_text()[-3000:]
    report = run_state(state)
    assert report.status == "COMPLETED"
    lines = stock_lines()
    # The tables and counts test_local_stock.py asserts for a local run over the same events.
    totals = {name: table.rows_total for name, table in report.tables.items()}
    metadata_events = len(STOCK_METADATA.read_text().splitlines())
    assert totals == {
        "brz_stock_prices": len(lines),
        "slv_stock_prices": len(lines),
        "slv_stock_prices_quarantine": 0,
        "brz_stock_metadata": metadata_events,
        "slv_stock_metadata": metadata_events,  # one per symbol, the latest kept
        "slv_star_stock_prices": len(lines),
        "gld_stock_performances": len(stock_days(lines)),
    }
    # The pipeline ran on the cluster's server: no local engine, checkpoints in --storage.
    assert not (state / "engine" / "server.json").exists()
    assert any((storage / "_checkpoints").rglob("*")), "no checkpoint under --storage"
