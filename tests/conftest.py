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
    _heaviest_modules_first(items)


# Seconds each whole-pipeline module takes on the 2-core CI machine (three workers): `./dev test
# --durations=0` of 2026-12-03 (1,166 tests in 1,476 s, a benchmark running beside it), scaled
# by CI's 1,200 s of pytest for the same suite. Only the order of scheduling depends on them.
MODULE_SECONDS = {
    "tests/test_local_stock.py": 330,
    "tests/test_streams_local.py": 214,
    "tests/test_local_snapshots.py": 206,
    "tests/test_local_cluster.py": 191,
    "tests/test_baddata2_pipeline.py": 169,
    "tests/test_baddata_pipeline.py": 149,
    "tests/test_local_engine.py": 148,
    "tests/test_baddata2_stock_day.py": 138,
    "tests/test_local_continuous.py": 136,
    "tests/test_udfs_runtime.py": 129,
    "tests/test_builder_laktory.py": 125,
    "tests/test_nohang_faults.py": 121,
    "tests/test_tabletests_run.py": 101,
    "tests/test_settings_local.py": 98,
    "tests/test_deploy_docs.py": 97,
    "tests/test_contract_design_notebook.py": 96,
    "tests/test_nohang_joins.py": 95,
    "tests/test_local_cdc.py": 81,
    "tests/test_harden_sequence.py": 78,
    "tests/test_local_watermark.py": 76,
    "tests/test_truth_run.py": 70,
    "tests/test_local_quarantine_order.py": 66,
    "tests/test_streams_kafka_local.py": 64,
    "tests/test_runtime_stock.py": 55,
    "tests/test_cdc_local_run.py": 55,
    "tests/test_harden_bronze_quarantine.py": 44,
    "tests/test_validate_cli.py": 37,
    "tests/test_harden_secret_logs.py": 37,
    "tests/test_validate_properties.py": 30,
    "tests/test_streams_databricks.py": 30,
}


def _heaviest_modules_first(items: list[pytest.Item]) -> None:
    """Order modules by their measured time (then by their Spark tests), longest first.

    `./dev test` spreads modules over three pytest-xdist workers (`--dist loadfile`), which take
    them in this order (`--no-loadscope-reorder`: xdist would otherwise start the modules with
    the most tests first): starting the longest ones first keeps a long module from running
    alone at the end. A module not listed is weighed by its whole-pipeline and Spark tests.
    Tests keep their order within a module.
    """
    weight: dict[str, tuple[int, int, int]] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        seconds, slow, spark = weight.get(module, (MODULE_SECONDS.get(module, 0), 0, 0))
        weight[module] = (
            seconds,
            slow + bool(item.get_closest_marker("slow")),
            spark + bool(item.get_closest_marker("spark")),
        )
    items.sort(key=lambda item: tuple(-count for count in weight[item.nodeid.split("::", 1)[0]]))


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

    from laktory_pulumi.local.class_archive import class_archive

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    java_options = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
    conf_dir = os.environ.get("SPARK_CONF_DIR")
    # The local engines' class archive, once one has recorded it, starts this JVM faster too:
    # same jars, and the archive's empty folder first on the class path.
    archive = class_archive(os.environ)
    if archive is not None and archive.file.is_file():
        java_options += archive.java_options(recorder_pid=None)
        os.environ["SPARK_CONF_DIR"] = str(archive.conf_dir)
    try:
        session = (
            SparkSession.builder.master("local[2]")
            .appName("laktory-pulumi-tests")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.extraJavaOptions", " ".join(java_options))
            .getOrCreate()
        )
    finally:
        if conf_dir is None:
            os.environ.pop("SPARK_CONF_DIR", None)
        else:
            os.environ["SPARK_CONF_DIR"] = conf_dir
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
