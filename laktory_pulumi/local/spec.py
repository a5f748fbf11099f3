"""The Spark Declarative Pipelines spec of a pipeline, and the Spark config it runs with."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from ..metadata import pipeline_configuration as deployed_configuration
from ..models import Pipeline
from ..runtime.sinks import SINK_ROOT_KEY
from .layout import StateLayout

DEFAULT_DATABASE = "default"

# Progress of streaming queries, logged at INFO, is the one place the log says how many rows
# each micro-batch read; everything else stays at WARN to keep the log readable.
_LOG4J2_PROPERTIES = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.pipelines.name = org.apache.spark.sql.pipelines
logger.pipelines.level = info
logger.progress.name = org.apache.spark.sql.execution.streaming.runtime.ProgressReporter
logger.progress.level = info
logger.metastore.name = org.apache.hadoop.hive.metastore
logger.metastore.level = error
logger.hiveconf.name = org.apache.hadoop.hive.conf.HiveConf
logger.hiveconf.level = error
"""


SCHEMA_ROOT_KEY = "laktory_schema_root"

REDACTED_CONF = "[{][{]secrets/"
"""What Spark redacts in the local engine: Databricks' `{{secrets/scope/key}}` references (a
Java regex without backslashes, which `spark-defaults.conf` would read as escapes)."""


def pipeline_configuration(
    pipeline: Pipeline,
    laktory_root: str,
    landing_root: Path,
    layout: StateLayout,
) -> dict[str, str]:
    """What notebooks read with `spark.conf.get`: the same keys as on Databricks, and one more.

    `landing_root` replaces the stack's (a `/Volumes/...` path means nothing here).
    `laktory_schema_root` is where event readers keep the schema they inferred on the first
    run (Auto Loader's schema location on Databricks): inferring again at each run would
    change a column's type as soon as one file holds a bad value.
    """
    return {
        **deployed_configuration(pipeline, laktory_root),
        "landing_root": str(landing_root.expanduser().resolve()),
        SCHEMA_ROOT_KEY: str(layout.schemas),
        SINK_ROOT_KEY: str(layout.sinks),
    }


def spark_defaults(layout: StateLayout) -> dict[str, str]:
    """Static Spark config of the local Spark Connect server.

    These must reach the server at start-up, hence `SPARK_CONF_DIR`: in the spec's
    `configuration` they are re-applied to every flow, where static keys fail the flow, and
    pyspark 4.3 drops `--conf` values past the first chunk of `PYSPARK_REMOTE_INIT_CONF_*`.
    """
    metastore_url = f"jdbc:derby:;databaseName={layout.metastore};create=true"
    return {
        # The default in-memory catalog forgets tables when the JVM exits, and the next run
        # then fails with LOCATION_ALREADY_EXISTS; pyspark ships Hive and Derby for this.
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": layout.warehouse.as_uri(),
        "spark.hadoop.javax.jdo.option.ConnectionURL": metastore_url,
        # A kept event schema grows (a nested field appears in `data`, as with Auto Loader's
        # addNewColumns); Hive's metastore refuses such a struct change by default.
        "spark.hadoop.hive.metastore.disallow.incompatible.col.type.changes": "false",
        # Derby's log goes to the state folder; runs here are short, so JVM start-up dominates
        # and a C1-only JIT with the serial GC starts faster (about 24 s -> 20 s per run).
        "spark.driver.extraJavaOptions": (
            f"{java_option('-Dderby.system.home=' + str(layout.metastore.parent))} "
            "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
        ),
        # Days are cut in UTC, as on Databricks.
        "spark.sql.session.timeZone": "UTC",
        # A flow that fails is retried twice with back-off by default: 15 s lost, same error.
        "spark.sql.pipelines.maxFlowRetryAttempts": "0",
        "spark.ui.enabled": "false",
        # A filter pushed into the JSON or CSV parser skips a malformed line before its
        # rescued text is kept: a quarantine's `id IS NULL` then lost the truncated line the
        # table's own `id IS NOT NULL` dropped (issue #24, case 4). Filters apply after parsing.
        "spark.sql.json.filterPushdown.enabled": "false",
        "spark.sql.csv.filterPushdown.enabled": "false",
        # 2-core laptops: 200 shuffle partitions cost far more than they bring here.
        "spark.sql.shuffle.partitions": "4",
        # The warm engine outlives runs, and streaming state stores stay loaded until the
        # next maintenance pass: with the default 1g heap and 60 s passes, a run right after
        # a full run over 1,000,000 events spent minutes in full GCs (two runs' dedup state).
        "spark.driver.memory": "2g",
        "spark.sql.streaming.stateStore.maintenanceInterval": "10s",
        # Spark Connect answers None for a conf whose key or value matches the redaction
        # regex (default `(?i)secret|password|token|access[.]?key`): a pipeline named
        # `pl-secret` could not read its own name, an `api_token` key read as None. Secret
        # values never reach this state folder's files (`local.secret_configuration`); only
        # Databricks' secret references, meaningless here, stay redacted.
        "spark.redaction.regex": REDACTED_CONF,
    }


def java_option(option: str) -> str:
    """One JVM option, quoted for Spark's option splitting (`extraJavaOptions`).

    Spark splits the value on spaces outside quotes and takes a backslash inside double quotes
    as an escape (launcher `CommandBuilderUtils.parseOptionString`): a state folder such as
    `My Drive #1/state` otherwise starts the JVM with a main class `Drive`.
    """
    return '"' + option.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _properties_value(value: str) -> str:
    """A value as `java.util.Properties.load` reads it back (Spark loads
    `spark-defaults.conf` with it): a backslash is an escape there."""
    return value.replace("\\", "\\\\")


def write_spark_conf(layout: StateLayout) -> Path:
    """Write `spark-defaults.conf` and `log4j2.properties`; return the folder."""
    folder = layout.spark_conf_dir
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{key} {_properties_value(value)}" for key, value in spark_defaults(layout).items()]
    (folder / "spark-defaults.conf").write_text("\n".join(lines) + "\n")
    (folder / "log4j2.properties").write_text(_LOG4J2_PROPERTIES)
    return folder


def write_spec(
    layout: StateLayout,
    pipeline: Pipeline,
    libraries: Sequence[Path],
    configuration: dict[str, str],
    storage: str | None = None,
) -> Path:
    """Write the spec `spark-pipelines run --spec` (and our driver) reads.

    Libraries are given relative to the spec's folder: the CLI globs them from there and
    `Path.glob` takes no absolute pattern. `storage` (a URI) replaces the state folder's
    storage, for a server that cannot reach this machine's files (`run --storage`).
    """
    spec = {
        "name": pipeline.name,
        # The CLI rejects a storage root without a URI scheme (PIPELINE_STORAGE_ROOT_INVALID).
        "storage": storage or layout.storage.as_uri(),
        "database": pipeline.target or DEFAULT_DATABASE,
        "configuration": configuration,
        "libraries": [
            {"glob": {"include": str(path.relative_to(layout.root))}} for path in libraries
        ],
    }
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.spec_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    return layout.spec_file
