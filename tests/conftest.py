"""Shared test set-up: one small SparkSession for the session, Spark markers, engine clean-up.

- `spark`: one classic local SparkSession for the whole test session (small and quiet).
- Any test that uses the `spark` fixture, or is marked `slow` (runs a whole local pipeline), is
  marked `spark` too, so `pytest -m "not spark"` (`./dev quick`) never starts a JVM.
- Local runs keep a warm Spark engine per state folder (`laktory_pulumi/local/engine.py`);
  after each Spark test, every engine under pytest's temporary folders is stopped, so the
  suite leaves no JVM behind and never holds more than the engines one test needs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# A safety net for an engine that escapes the clean-up below (a crashed pytest, say).
os.environ.setdefault("LAKTORY_ENGINE_IDLE_SECONDS", "300")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_spark = "spark" in getattr(item, "fixturenames", ())
        if (uses_spark or item.get_closest_marker("slow")) and not item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.spark)


def _stop_engines_under(root: Path) -> None:
    from laktory_pulumi.local.engine import stop_engine
    from laktory_pulumi.local.layout import StateLayout

    for record in root.glob("**/engine/server.json"):
        stop_engine(StateLayout.at(record.parent.parent))


@pytest.fixture(autouse=True)
def _stop_local_engines(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Stop the warm engines a Spark test started (they live under pytest's temp folders)."""
    yield
    if request.node.get_closest_marker("spark"):
        _stop_engines_under(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """local[2], UTC, 4 shuffle partitions, no UI: what a 2-core CI machine can afford."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("laktory-pulumi-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
