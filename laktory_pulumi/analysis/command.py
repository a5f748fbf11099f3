"""`validate --deep` and `run`'s pre-flight: findings located in the pipeline files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..loader import LoadError
from ..loader.errors import LocatedError
from ..runtime.log import show_query_context_logs
from .located import locate, located_in_stack

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from ..loader.stack import Stack
    from .deep import Finding


_SESSION_CONF = {
    "spark.master": "local[1]",
    "spark.app.name": "laktory-validate-deep",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}
# The analysis turns each error into one located line, so pyspark's logs of it (with the JVM's
# whole stack) are shown only with `--debug` (`runtime.log.show_query_context_logs`).
_show_spark_output = False


def show_spark_output(show: bool) -> None:
    """Let the JVM's output and pyspark's error logs through (`laktory-pulumi --debug`), or not.

    Only the wish is kept here (no pyspark import, so commands without Spark stay fast);
    `analysis_session` applies it to pyspark's loggers each time it is asked for a session.
    Every `main` call sets it, so a `--debug` call does not leak into the next call of the
    same process (tests, notebooks calling `main`).
    """
    global _show_spark_output
    _show_spark_output = show


def analysis_session() -> SparkSession:
    """The process's classic local session, started once (small: the plans are analysed only).

    Its JVM's own output (start-up notices, log4j warnings, stack traces) is discarded unless
    `show_spark_output(True)`: every error reaches the user as one located line.
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    show_query_context_logs(_show_spark_output)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # `run --remote` may come from SPARK_REMOTE, which makes pyspark refuse a classic master;
    # this session is local and classic whatever the pipeline runs on.
    remote = os.environ.pop("SPARK_REMOTE", None)
    try:
        conf = SparkConf().setAll(list(_SESSION_CONF.items()))
        if SparkContext._gateway is None and not _show_spark_output:  # type: ignore[attr-defined]
            from pyspark.java_gateway import launch_gateway

            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            gateway = launch_gateway(conf, popen_kwargs=quiet)
            SparkContext._ensure_initialized(gateway=gateway, conf=conf)  # type: ignore[attr-defined]
        session = SparkSession.builder.config(conf=conf).getOrCreate()
    finally:
        if remote is not None:
            os.environ["SPARK_REMOTE"] = remote
    session.sparkContext.setLogLevel("ERROR")
    return session


def deep_errors(
    stack: Stack,
    project: Path,
    landing: Path | None,
    only: list[str] | None = None,
    *,
    need_inputs: bool = True,
    spark: SparkSession | None = None,
) -> list[LocatedError]:
    """Every finding of the deep analysis of the stack's pipelines, located in their files.

    With `need_inputs` false, an event source without files or schema is not a finding (the
    run itself says so, naming the folder). `spark` is the session to analyse with (`run`
    passes a client of the Spark Connect server the pipeline will run on); by default a small
    classic local session.
    """
    return deep_findings(stack, project, landing, only, need_inputs=need_inputs, spark=spark)[0]


def deep_findings(
    stack: Stack,
    project: Path,
    landing: Path | None,
    only: list[str] | None = None,
    *,
    need_inputs: bool = True,
    spark: SparkSession | None = None,
) -> tuple[list[LocatedError], list[LocatedError]]:
    """(errors, notices) of the deep analysis, located in the pipeline files: a notice names a
    table left unanalysed, and why (see `deep_errors` for the arguments)."""
    from ..models.udf import MODULES_FOLDER
    from ..runtime.udfs import modules_from_source
    from .deep import analyse_pipeline

    spark = spark or analysis_session()
    errors: list[LocatedError] = []
    notices: list[LocatedError] = []
    for name, pipeline in stack.pipelines.items():
        if only is not None and name not in only:
            continue
        with modules_from_source(Path(project) / MODULES_FOLDER):
            findings = analyse_pipeline(pipeline, spark, landing, need_inputs=need_inputs)
        errors += _locate(stack.files[name], project, [f for f in findings if not f.notice])
        notices += _locate(stack.files[name], project, [f for f in findings if f.notice])
    return errors, notices


def check_deep(
    stack: Stack,
    project: Path,
    landing: Path | None,
    only: list[str] | None = None,
    *,
    need_inputs: bool = True,
    spark: SparkSession | None = None,
) -> list[LocatedError]:
    """Raise `LoadError` with every located error; when every plan that could be analysed
    resolves, return the notices of the tables that could not be."""
    errors, notices = deep_findings(
        stack, project, landing, only, need_inputs=need_inputs, spark=spark
    )
    if errors:
        raise LoadError(errors)
    return notices


def settings_notices(stack: Stack, project: Path) -> list[LocatedError]:
    """The notices of the pipelines' table settings (`models.table_settings.settings_notices`:
    a `pii` column published unmasked), located in their files."""
    from ..models.table_settings import settings_notices as notices_of

    return located_in_stack(stack, project, notices_of)


def _finding(path: tuple[str | int, ...], message: str) -> Finding:
    from .deep import Finding

    return Finding(path, message)


def _locate(file: Path, project: Path, findings: list[Finding]) -> list[LocatedError]:
    """Findings at the line and column of their field, through the loader's YAML positions."""
    return locate(file, project, [(finding.path, finding.message) for finding in findings])
