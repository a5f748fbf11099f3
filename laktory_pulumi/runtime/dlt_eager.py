"""The `dlt` shim's backend outside any pipeline: a notebook debugging a template.

Decorators run their query function at once and keep the DataFrame, so `dlt.get_df(wrapper)`
returns what the table would hold and `dlt.read` finds tables defined earlier in the session.
Expectations are applied with DLT's semantics (`expectations.apply_rules`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from .deduplication import finishing_step
from .expectations import ExpectationDecorators, Rule, apply_rules, attached_rules, rules_from

QueryFunction = Callable[[], DataFrame]


@dataclass(frozen=True)
class DefinedDataset:
    """What `@dlt.table` returns in debug mode: the dataset's name and its DataFrame."""

    name: str
    frame: DataFrame


class EagerBackend(ExpectationDecorators):
    """Databricks' `dlt` API evaluated on the spot, for debugging outside pipelines."""

    name = "eager"

    def __init__(self) -> None:
        self.frames: dict[str, DataFrame] = {}
        self._streaming_tables: dict[str, list[Rule]] = {}
        self._change_flows: dict[str, list[tuple[DataFrame, Any]]] = {}

    def _spark(self) -> SparkSession:
        from . import dlt

        return dlt.spark or SparkSession.active()

    def read(self, name: str) -> DataFrame:
        """A dataset defined earlier in this session (a stream's rows so far), else a table."""
        if name in self.frames:
            return as_batch(self.frames[name], name)
        return self._spark().read.table(name)

    def read_stream(self, name: str) -> DataFrame:
        """As `read`, streaming from the catalog when the dataset was not defined here."""
        if name in self.frames:
            return self.frames[name]
        return self._spark().readStream.table(name)

    def table(
        self,
        query_function: QueryFunction | None = None,
        *,
        name: str | None = None,
        comment: str | None = None,
        **_pipeline_only: Any,
    ) -> Any:
        """`@dlt.table`: run the query now, apply its expectations, keep the result."""

        def register(function: QueryFunction) -> DefinedDataset:
            dataset = name or function.__name__
            frame = apply_rules(function(), dataset, attached_rules(function))
            finish = finishing_step(function)
            frame = finish(frame) if finish is not None else frame
            self.frames[dataset] = frame
            return DefinedDataset(dataset, frame)

        return register(query_function) if query_function is not None else register

    view = table

    def create_streaming_table(
        self,
        name: str,
        expect_all: dict[str, str] | None = None,
        expect_all_or_drop: dict[str, str] | None = None,
        expect_all_or_fail: dict[str, str] | None = None,
        **_pipeline_only: Any,
    ) -> None:
        """Remember the target's expectations; its rows come from `append_flow` (the union of
        the flows) or from `apply_changes`."""
        self._streaming_tables[name] = [
            *rules_from(expect_all or {}, "WARN"),
            *rules_from(expect_all_or_drop or {}, "DROP"),
            *rules_from(expect_all_or_fail or {}, "FAIL"),
        ]
        self.frames.pop(name, None)

    def create_sink(self, name: str, format: str, options: dict[str, str] | None = None) -> None:
        """A sink: in debug, the union of the rows its flows would publish."""
        self._streaming_tables[name] = []
        self.frames.pop(name, None)

    def foreach_batch_sink(self, name: str | None = None) -> Any:
        """A foreach_batch sink: in debug, the union of the rows its flows would hand over;
        the handler is not called."""

        def register(handler: Any) -> Any:
            self.create_sink(name or handler.__name__, "foreach_batch")
            return handler

        return register

    def append_flow(self, *, target: str, name: str | None = None, **_pipeline_only: Any) -> Any:
        """`@dlt.append_flow`: the flow's rows, with the target's expectations, added to it."""

        def register(function: QueryFunction) -> DefinedDataset:
            rules = self._streaming_tables.get(target, [])
            frame = apply_rules(function(), target, rules)
            if target in self.frames:
                frame = self.frames[target].unionByName(frame, allowMissingColumns=True)
            self.frames[target] = frame
            return DefinedDataset(target, frame)

        return register

    def create_auto_cdc_flow(
        self, target: str, source: str, flow_name: str | None = None, **arguments: Any
    ) -> DefinedDataset:
        """One change flow into `target`; with a flow name, one of several, the target being
        the SCD table of all the flows' changes so far (`runtime.change_feeds`)."""
        from .scd import apply_changes_of_feeds, change_spec

        if flow_name is None:
            return self.apply_changes(target, source, **arguments)
        feeds = self._change_flows.setdefault(target, [])
        feeds.append((as_batch(self.read(source), source), change_spec(**arguments)))
        self.frames[target] = apply_changes_of_feeds(feeds)
        return DefinedDataset(target, self.frames[target])

    def create_auto_cdc_from_snapshot_flow(
        self, target: str, source: Any, **arguments: Any
    ) -> DefinedDataset:
        """The SCD table of the source's snapshots: every snapshot of a `SnapshotReader`, or
        the one snapshot a view holds now."""
        from pyspark.sql import functions as F

        from .snapshots import SNAPSHOT_VERSION, apply_snapshots

        if isinstance(source, str):
            version = F.lit(1).cast("bigint").alias(SNAPSHOT_VERSION)
            snapshots = as_batch(self.read(source), source).select("*", version)
        else:
            snapshots = source.every_snapshot()
        self.frames[target] = apply_snapshots(snapshots, **arguments)
        return DefinedDataset(target, self.frames[target])

    def apply_changes(self, target: str, source: str, **arguments: Any) -> DefinedDataset:
        """The SCD table of `source`'s changes, computed from every change at once.

        `arguments` are those of `dlt.apply_changes` (see `runtime.scd.change_spec`).
        """
        from .scd import apply_changes as scd_apply_changes
        from .scd import change_spec

        spec = change_spec(**arguments)
        frame = scd_apply_changes(as_batch(self.read(source), source), spec)
        self.frames[target] = frame
        return DefinedDataset(target, frame)

    def get_df(self, dataset: DefinedDataset | str) -> DataFrame:
        """The DataFrame of a dataset defined in this session (by wrapper or by name)."""
        name = dataset if isinstance(dataset, str) else dataset.name
        if name not in self.frames:
            raise KeyError(f"no dataset '{name}' was defined in this session")
        return self.frames[name]

    def display(self, frame: DataFrame, rows: int = 20) -> None:
        """Print the first rows; a stream is first run over what is available now."""
        as_batch(frame, "display").show(rows, truncate=False)


def as_batch(frame: DataFrame, name: str) -> DataFrame:
    """A stream's rows available now, as a batch DataFrame; a batch DataFrame unchanged.

    The stream runs once into Spark's memory sink (as `display` does on Databricks).
    """
    if not frame.isStreaming:
        return frame
    query_name = f"laktory_debug_{name}".replace("-", "_")
    query = (
        frame.writeStream.format("memory")
        .queryName(query_name)
        .outputMode("append")
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return frame.sparkSession.table(query_name)
