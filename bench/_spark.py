"""The local SparkSession the Spark benchmarks share: the test suite's settings, local[2]."""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession


def local_spark() -> SparkSession:
    """local[2], UTC, 4 shuffle partitions, no UI: a 2-core laptop or CI runner."""
    session = (
        SparkSession.builder.master("local[2]")
        .appName("laktory-pulumi-bench")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.pyspark.python", sys.executable)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session
