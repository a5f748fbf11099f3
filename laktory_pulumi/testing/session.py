"""The warm engine of the test state folder, and a Spark Connect session on it.

Tests use their own state folder (default `.laktory-test`), so they never touch the tables,
checkpoints or metastore of `laktory-pulumi run`; its engine (`local/engine.py`) stays warm
between two `laktory-pulumi test` commands as a run's does. Nothing is written to its catalog:
a test's tables are DataFrames of the session, never stored.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyspark

from ..local.engine import (
    code_fingerprint,
    ensure_engine,
    mark_connected,
    mark_disconnected,
    stop_engine,
)
from ..local.layout import StateLayout
from ..local.spec import write_spark_conf
from ..runtime.log import show_query_context_logs

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Inherited, these would make the engine a client of another server (as in `local/runner.py`).
_CLIENT_MODE_ENV = {"SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE"}


def engine_environment(layout: StateLayout, conf_dir: Path) -> dict[str, str]:
    """What the engine's JVM and Python workers run with."""
    return {
        **{key: value for key, value in os.environ.items() if key not in _CLIENT_MODE_ENV},
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "SPARK_CONF_DIR": str(conf_dir),
    }


@contextmanager
def engine_session(
    layout: StateLayout, idle_seconds: float, say: Callable[[str], None] = print
) -> Iterator[SparkSession]:
    """A session on the state folder's engine, started when cold. The caller holds the run
    lock, so that the idle shutdown never stops the engine under the tests."""
    from pyspark.sql import SparkSession

    # pyspark logs every analysis error with its call site as JSON on stderr; a test that
    # fails reports its own one-line reason instead.
    show_query_context_logs(False)
    conf_dir = write_spark_conf(layout)
    environment = engine_environment(layout, conf_dir)
    record = ensure_engine(
        layout, environment, code_fingerprint(conf_dir, environment), idle_seconds, say
    )
    mark_connected(layout, idle_seconds)
    # Creating a Connect session sets SPARK_CONNECT_MODE_ENABLED for the whole process, after
    # which a classic session (the pre-flight analysis of a later run in this process) fails.
    before = {key: os.environ.get(key) for key in _CLIENT_MODE_ENV}
    spark = (
        SparkSession.builder.remote(record.url)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.connect.serverStacktrace.enabled", "false")
        .create()
    )
    try:
        yield spark
    finally:
        spark.stop()
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        mark_disconnected(layout)
        if idle_seconds <= 0:
            stop_engine(layout)
