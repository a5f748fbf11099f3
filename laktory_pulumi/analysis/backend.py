"""The `dlt` backend of the deep check: the eager backend's definitions, analysed, on empty inputs.

Each dataset is defined exactly as in a debugging notebook (`EagerBackend`: the query function,
its expectations, the deduplication after them), then analysed: its schema is resolved and a
streaming result is checked as SDP and DLT write it, in append mode. Reads of a dataset return
an empty frame of its analysed schema (a stream over an empty folder, or an empty batch), so no
data is read and no query runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from ..runtime.dlt_eager import DefinedDataset, EagerBackend


class UpstreamMissing(RuntimeError):
    """A dataset reads one that could not be analysed; its own analysis is skipped."""


class AnalysisBackend(EagerBackend):
    """`EagerBackend` whose datasets are analysed, never computed."""

    def __init__(self, spark: SparkSession, empty_folder: Path) -> None:
        super().__init__()
        self.spark = spark
        self.empty_folder = empty_folder

    def _spark(self) -> SparkSession:
        return self.spark

    def _schema(self, name: str) -> Any:
        if name not in self.frames:
            raise UpstreamMissing(name)
        return self.frames[name].schema

    def read(self, name: str) -> DataFrame:
        """An empty batch of the dataset's analysed schema."""
        return self.spark.createDataFrame([], self._schema(name))

    def read_stream(self, name: str) -> DataFrame:
        """An empty stream of the dataset's analysed schema."""
        reader = self.spark.readStream.schema(self._schema(name)).format("json")
        return reader.load(str(self.empty_folder))

    def table(self, query_function: Any = None, *, name: str | None = None, **options: Any) -> Any:
        """Define the dataset as the eager backend does, then analyse it."""

        def register(function: Any) -> DefinedDataset:
            defined = EagerBackend.table(self, function, name=name)
            analyse(defined.frame)
            return defined

        return register(query_function) if query_function is not None else register

    view = table

    def apply_changes(self, target: str, source: str, **arguments: Any) -> DefinedDataset:
        """The SCD table of an empty change feed, analysed."""
        defined = EagerBackend.apply_changes(self, target, source, **arguments)
        analyse(defined.frame)
        return defined


class StreamingAppendRefused(ValueError):
    """A streaming result that Spark cannot write in append mode (SDP's and DLT's mode)."""


def analyse(frame: DataFrame) -> None:
    """Resolve the frame's plan; for a stream, check Spark accepts it in append mode."""
    frame.schema  # noqa: B018  # the analysis: raises on any unresolved name or bad type
    if not frame.isStreaming:
        return
    jvm = frame.sparkSession._jvm  # type: ignore[attr-defined]
    # What `writeStream.start()` checks first (UnsupportedOperationChecker), without starting.
    checker = jvm.org.apache.spark.sql.catalyst.analysis.UnsupportedOperationChecker
    plan = frame._jdf.queryExecution().analyzed()
    try:
        checker.checkForStreaming(plan, jvm.org.apache.spark.sql.streaming.OutputMode.Append())
    except Exception as error:  # py4j wraps Spark's AnalysisException
        raise StreamingAppendRefused(first_line(error)) from None


def first_line(error: BaseException) -> str:
    """Spark's message without its plan, stack or SQLSTATE."""
    text = str(error).strip()
    for marker in ("\n", " SQLSTATE"):
        text = text.split(marker, 1)[0]
    return text.rstrip(";. ") or type(error).__name__
