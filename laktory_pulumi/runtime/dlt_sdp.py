"""The `dlt` shim's backend inside Spark Declarative Pipelines (`laktory-pulumi run`).

It gives Databricks' `dlt` API (`table`, `view`, `expect*`, `read`, `read_stream`,
`create_streaming_table`, `apply_changes`) on top of `pyspark.pipelines`, with DLT's meaning:

- `table` becomes a streaming table when its query reads a stream, a materialized view
  otherwise, as DLT decides. The query is built once, at registration (SDP does the same), and
  the kind is read from its plan: asking the DataFrame (`isStreaming`, `columns`) would analyse
  it, which SDP refuses inside query functions.
- Expectations: WARN keeps failing rows, DROP filters them out, FAIL stops the update with the
  rule's name. A rule whose expression is NULL on a row fails on that row. On streaming tables
  the rows and failures of each micro-batch are observed (`DataFrame.observe`) and reach the
  runner through the streaming progress; materialized views are counted after the update by
  the runner (see `count_expectations`).
- `apply_changes`: SDP's own `create_auto_cdc_flow` needs a target that can MERGE, which a
  local parquet table cannot, so the target is a materialized view computing SCD 1 or 2 from
  the whole change feed (`laktory_pulumi.runtime.scd`).
- `read` and `read_stream` inside a query function go through a temporary view of the pipeline
  (`laktory_batch_read__<name>`, `laktory_stream_read__<name>`) rather than naming the table.
  SDP learns a flow's inputs, and so the order of its flows, from the table names left
  unresolved in its plan. But the Spark Connect server analyses some operations' input as soon
  as a flow is defined (`withColumns` and `withColumnsRenamed` fall back to a lazy plan when that
  fails; `drop`, `withWatermark`, `na.*` do not). Once a run has created the table, that
  analysis succeeds against the catalog, the table's name disappears from the plan, and the
  flow loses its input: it starts with the update's first flows, before the table is written,
  and reads the previous run's rows. The session's catalog never holds the pipeline's views, so
  the early analysis always fails and the name stays for SDP to resolve.

Every dataset defined here is recorded in `REGISTRY` for the runner's counts.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message
from pyspark import pipelines as dp
from pyspark.pipelines.add_pipeline_analysis_context import add_pipeline_analysis_context
from pyspark.pipelines.graph_element_registry import get_active_graph_element_registry
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from .analysis import refusing_analysis
from .deduplication import finishing_step
from .expectations import ExpectationDecorators, Rule, apply_rules, attached_rules, rules_from
from .scd import SEQUENCE_RULES, ChangeSpec, apply_changes_of_feeds, change_spec, sequence_checks
from .scd import apply_changes as scd_apply_changes

QueryFunction = Callable[[], DataFrame]

ROWS_METRIC = "rows"
_STREAM_SQL = re.compile(r"\bSTREAM\s*\(", re.IGNORECASE)
_batch_reads: contextvars.ContextVar[bool] = contextvars.ContextVar("batch_reads", default=False)
# The views the query function being built reads through, by name, with their query functions;
# None outside `_build` (reads after the update, by the runner, name the tables).
_view_reads: contextvars.ContextVar[dict[str, QueryFunction] | None] = contextvars.ContextVar(
    "view_reads", default=None
)


@dataclass
class DatasetRecord:
    """What the runner needs to know about a dataset defined in this process."""

    name: str
    materialized_view: bool
    expectations: list[Rule] = field(default_factory=list)
    query: QueryFunction | None = None
    checked: QueryFunction | None = None
    """The rows `expectations` are checked on, when not `query`'s: a CDC target's are its
    change feed's, before the rules (the target itself holds only what the rules kept)."""
    more_checks: tuple[tuple[list[Rule], QueryFunction], ...] = ()
    """Rules among `expectations` counted on other rows than `checked`'s: a CDC target's
    sequence checks, on the changes `apply_changes` consumes."""


NOTEBOOK_CONF: dict[str, str] = {}
"""What the notebook being imported set with `spark.conf.set`: applied to the datasets it
defines after that, as `spark_conf` (a Lakeflow pipeline applies a Python source file's
`spark.conf.set` to the datasets that follow it, as a SQL file's SET: learn.microsoft.com/
azure/databricks/ldp/properties, "How to set properties"). SDP refuses the call itself
(SESSION_MUTATION_IN_DECLARATIVE_PIPELINE); the local driver records it here instead."""


def with_notebook_conf(spark_conf: dict[str, str] | None) -> dict[str, str] | None:
    """A dataset's `spark_conf`, over what its notebook set before defining it."""
    merged = {**NOTEBOOK_CONF, **(spark_conf or {})}
    return merged or None


REGISTRY: dict[str, DatasetRecord] = {}
# Query functions of the views defined here, to recompute a CDC source as a whole.
VIEW_QUERIES: dict[str, QueryFunction] = {}
# The expectations of those views, with their query before the rules (for a CDC target's counts).
VIEW_RULES: dict[str, tuple[list[Rule], QueryFunction]] = {}
# The reading views defined in this update's graph (each is defined once, whoever reads it).
READ_VIEWS: set[str] = set()


@dataclass
class ForeachBatchSink:
    """A foreach_batch sink defined this update, with the query functions of its flows."""

    name: str
    handler: Callable[[DataFrame, int], None]
    flows: list[tuple[str, QueryFunction]] = field(default_factory=list)
    table: str | None = None
    """The table the flows stream: refreshed in full, the flows start again from batch 0."""


FOREACH_BATCH_SINKS: dict[str, ForeachBatchSink] = {}
"""pyspark 4.3's SDP has no `foreach_batch_sink`: the sinks the notebooks defined, which the
driver streams into their handlers once the update has completed (`local.foreach_batch`)."""


SNAPSHOT_LOGS: dict[str, tuple[str, str]] = {}
"""For each target of a periodic snapshot (a view read whole at each update): its log table
and the view. Locally the snapshots a view gave at earlier updates exist nowhere else; the
driver appends each update's to the log once the update has committed (`log_snapshots`)."""


def snapshot_log_name(target: str) -> str:
    """The catalog table keeping the snapshots of `target`'s periodic snapshot flow."""
    return f"laktory_snapshots__{target}"


def log_snapshots(spark: SparkSession) -> None:
    """Append, to each periodic snapshot's log, the snapshot the update just applied: its view
    evaluated again against the tables the update committed, at the next version."""
    from .snapshots import SNAPSHOT_VERSION

    for log, source in SNAPSHOT_LOGS.values():
        current = _whole(source)
        if spark.catalog.tableExists(log):
            row = spark.table(log).agg(F.max(SNAPSHOT_VERSION)).first()
            version = int(row[0] or 0) + 1 if row else 1
        else:
            version = 1
        logged = current.select("*", F.lit(version).cast("bigint").alias(SNAPSHOT_VERSION))
        logged.write.mode("append").format("parquet").saveAsTable(log)


def reset() -> None:
    """Forget the datasets of the previous update: each update imports the notebooks anew."""
    SNAPSHOT_LOGS.clear()
    FOREACH_BATCH_SINKS.clear()
    REGISTRY.clear()
    VIEW_QUERIES.clear()
    VIEW_RULES.clear()
    READ_VIEWS.clear()


def observation_name(table: str) -> str:
    """Name of the metrics observed on a streaming table's flow."""
    return f"laktory:{table}"


def failed_metric(rule: str) -> str:
    """Name of the observed count of rows failing `rule`."""
    return f"failed:{rule}"


def count_expectations(record: DatasetRecord) -> dict[str, int]:
    """Rows and failures of a materialized view's rules, evaluated after the update.

    A materialized view is recomputed whole from tables the update has finished writing, so
    evaluating its query again (outside the pipeline, against the stored tables) sees the rows
    the update saw.
    """
    query = record.checked or record.query
    if query is None or not record.expectations:
        return {}
    elsewhere = {rule.name for rules, _ in record.more_checks for rule in rules}
    counts = _counted(query, [rule for rule in record.expectations if rule.name not in elsewhere])
    for rules, other_query in record.more_checks:
        # The rows metric stays the first query's: the rows of the dataset the rules report on.
        counts.update(
            {
                key: value
                for key, value in _counted(other_query, rules).items()
                if key != ROWS_METRIC
            }
        )
    return counts


def _counted(query: QueryFunction, rules: Sequence[Rule]) -> dict[str, int]:
    token = _batch_reads.set(True)
    try:
        frame = query()
    finally:
        _batch_reads.reset(token)
    row = frame.agg(*_metrics(rules)).first()
    return {key: int(value or 0) for key, value in (row.asDict() if row else {}).items()}


def _metrics(rules: Sequence[Rule]) -> list[Column]:
    return [
        F.count(F.lit(1)).alias(ROWS_METRIC),
        *(F.count_if(rule.failed).alias(failed_metric(rule.name)) for rule in rules),
    ]


def _apply_rules(frame: DataFrame, table: str, rules: Sequence[Rule], streaming: bool) -> DataFrame:
    """DLT's expectations on a query's result, with the counts observed on streams."""
    if not rules:
        return frame
    if streaming:
        frame = frame.observe(observation_name(table), *_metrics(rules))
    return apply_rules(frame, table, rules)


def _is_streaming_plan(frame: DataFrame) -> bool:
    """Whether a Spark Connect DataFrame reads a stream, from its plan alone (no analysis)."""
    plan = frame._plan.plan(frame.sparkSession.client)  # type: ignore[attr-defined]

    def visit(message: Message) -> bool:
        for descriptor, value in message.ListFields():
            if descriptor.name == "is_streaming" and value is True:
                return True
            # SQL text: `read_stream_with_watermark` reads with `STREAM(view) WATERMARK ...`.
            if isinstance(value, str) and descriptor.name == "query" and _STREAM_SQL.search(value):
                return True
            if descriptor.message_type is None:
                continue
            children = value if descriptor.label == descriptor.LABEL_REPEATED else [value]
            if any(visit(child) for child in children if isinstance(child, Message)):
                return True
        return False

    return visit(plan)


def _build(name: str, query: QueryFunction) -> DataFrame:
    """Run a query function the way SDP's registry does, in the flow's analysis context.

    Its reads of datasets go through views (see the module's docstring), defined here once the
    function has returned: SDP refuses to define a dataset from inside a query function.
    """
    registry = get_active_graph_element_registry()
    graph_id = getattr(registry, "_dataflow_graph_id", None)
    spark = SparkSession.active()
    with refusing_analysis():
        if graph_id is None:
            return query()
        reads: dict[str, QueryFunction] = {}
        token = _view_reads.set(reads)
        try:
            with (
                add_pipeline_analysis_context(
                    spark=spark, dataflow_graph_id=graph_id, flow_name=name
                ),
                _schema_printed_later(name),
            ):
                frame = query()
        finally:
            _view_reads.reset(token)
    for view, read in reads.items():
        if view not in READ_VIEWS:
            READ_VIEWS.add(view)
            dp.temporary_view(name=view)(read)
    return frame


@contextmanager
def _schema_printed_later(name: str) -> Iterator[None]:
    """`df.printSchema()` inside a query function says the schema is not known yet.

    Laktory's templates (and the design document's) print the source's schema while building
    a table; DLT analyses there, SDP refuses any analysis inside a query function
    (ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION), and printing is all the call does.
    """
    from pyspark.sql.connect.dataframe import DataFrame as ConnectDataFrame

    printing = ConnectDataFrame.printSchema

    def later(self: ConnectDataFrame, level: int | None = None) -> None:
        print(
            f"{name}: schema not printed (known once the flow runs; SDP analyses no query "
            "while it is defined)"
        )

    ConnectDataFrame.printSchema = later  # type: ignore[method-assign]
    try:
        yield
    finally:
        ConnectDataFrame.printSchema = printing  # type: ignore[method-assign]


def _source_name(name: str, stream: bool) -> str:
    """What a query function reads for dataset `name`: its reading view inside `_build`."""
    reads = _view_reads.get()
    if reads is None:
        return name
    # A view name is one part: `db.t` (or any other character) becomes `db_t`.
    safe_name = re.sub(r"\W", "_", name)
    view = f"laktory_{'stream' if stream else 'batch'}_read__{safe_name}"
    reads.setdefault(view, lambda: _table(name, stream))
    return view


def _table(name: str, stream: bool) -> DataFrame:
    spark = SparkSession.active()
    return spark.readStream.table(name) if stream else spark.read.table(name)


def _read(name: str, stream: bool) -> DataFrame:
    """`name` read whole or as a stream; through its reading view inside `_build`."""
    return _table(_source_name(name, stream), stream)


def _quoted(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


class SdpBackend(ExpectationDecorators):
    """Databricks' `dlt` module, as far as laktory's notebooks use it, on SDP."""

    name = "sdp"

    def __init__(self) -> None:
        self._pending_cdc_targets: dict[str, str | None] = {}
        # Streaming tables declared for append flows: their expectations, by name.
        self._append_targets: dict[str, list[Rule]] = {}
        # The flows of each append target, and the targets made unions of their flows' tables.
        self._append_flows: dict[str, list[str]] = {}
        self._unions: dict[str, list[str]] = {}
        # The sinks defined (`create_sink`): their flows write there directly.
        self._sinks: set[str] = set()
        # Settings of each append target, for its flows' tables: (properties, partitions).
        self._target_properties: dict[str, tuple[dict[str, str] | None, list[str] | None]] = {}
        # The change flows of each target fed by several change feeds, until all are defined.
        self._change_flows: dict[str, list[tuple[str, ChangeSpec]]] = {}

    # Reads --------------------------------------------------------------------------------

    def read(self, name: str) -> DataFrame:
        """A dataset of the pipeline (or any table), read whole."""
        return _read(name, stream=False)

    def read_stream(self, name: str) -> DataFrame:
        """A dataset of the pipeline read as a stream; whole when a CDC view is recomputed.

        The target of append flows is read as the union of its flows' streams (see
        `append_flow`): each row a flow appends is read once, as a stream of DLT's append-only
        target reads it. Reading the target (a materialized view) whole would give a
        downstream stream every row again at each update.
        """
        if _batch_reads.get():
            return _read(name, stream=False)
        flows = self._unions.get(name)
        if flows is None:
            return _read(name, stream=True)
        return _union([_read(flow, stream=True) for flow in flows])

    def read_stream_with_watermark(self, name: str, column: str, threshold: str) -> DataFrame:
        """A stream with an event-time watermark, written in SQL.

        `DataFrame.withWatermark` makes the server analyse its input when the flow is
        defined, which fails before the pipeline's tables exist; SQL's `WATERMARK` clause
        stays lazy. Read whole (no watermark) when a CDC view is recomputed.
        """
        if _batch_reads.get():
            return _read(name, stream=False)
        source = _source_name(name, stream=True)
        # The model checks the threshold is `<number> <unit>` pairs, which SQL takes unquoted.
        return SparkSession.active().sql(
            f"SELECT * FROM STREAM({_quoted(source)}) WATERMARK {_quoted(column)} "
            f"DELAY OF INTERVAL {threshold}"
        )

    # Datasets -----------------------------------------------------------------------------

    def table(
        self,
        query_function: QueryFunction | None = None,
        *,
        name: str | None = None,
        comment: str | None = None,
        spark_conf: dict[str, str] | None = None,
        table_properties: dict[str, str] | None = None,
        partition_cols: list[str] | None = None,
        schema: str | None = None,
        temporary: bool = False,
        **_databricks_only: Any,
    ) -> Any:
        """`@dlt.table`: a streaming table or a materialized view, as its query reads."""

        def register(function: QueryFunction) -> None:
            table = name or function.__name__
            rules = attached_rules(function)
            raw = _build(table, function)
            streaming = _is_streaming_plan(raw)
            frame = _apply_rules(raw, table, rules, streaming)
            finish = finishing_step(function)  # deduplication, after the rules
            frame = finish(frame) if finish is not None else frame
            if temporary and not rules:
                # A private table: read by the pipeline, never published; SDP's unpublished
                # dataset is a temporary view, recomputed within each flow that reads it. One
                # with expectations (an AGGREGATE checks view, which nothing reads) is kept a
                # materialized view: DLT checks a private table's rules at every update, and
                # a view nothing reads would never be computed.
                dp.temporary_view(name=table, comment=comment, spark_conf=spark_conf)(lambda: frame)
                VIEW_QUERIES[table] = function
                return
            options: dict[str, Any] = {
                "name": table,
                "comment": comment,
                "spark_conf": with_notebook_conf(spark_conf),
                "table_properties": table_properties,
                "partition_cols": partition_cols,
                "schema": schema,
            }
            define = dp.table if streaming else dp.materialized_view
            define(**options)(lambda: frame)
            REGISTRY[table] = DatasetRecord(
                name=table,
                materialized_view=not streaming,
                expectations=rules,
                # A view's query is evaluated again after the update to count its rules.
                query=None if streaming else function,
            )

        if query_function is not None:
            register(query_function)
            return None
        return register

    def view(
        self,
        query_function: QueryFunction | None = None,
        *,
        name: str | None = None,
        comment: str | None = None,
        **_databricks_only: Any,
    ) -> Any:
        """`@dlt.view`: a temporary view of the pipeline, with its expectations."""

        def register(function: QueryFunction) -> None:
            view = name or function.__name__
            rules = attached_rules(function)
            raw = _build(view, function)
            frame = _apply_rules(raw, view, rules, _is_streaming_plan(raw))
            finish = finishing_step(function)
            frame = finish(frame) if finish is not None else frame
            dp.temporary_view(name=view, comment=comment)(lambda: frame)

            def whole() -> DataFrame:
                checked = _apply_rules(function(), view, rules, streaming=False)
                return finish(checked) if finish is not None else checked

            VIEW_QUERIES[view] = whole
            if rules:
                VIEW_RULES[view] = (rules, function)

        if query_function is not None:
            register(query_function)
            return None
        return register

    # Expectations -------------------------------------------------------------------------

    # Change data capture ------------------------------------------------------------------

    def create_streaming_table(
        self,
        name: str,
        comment: str | None = None,
        expect_all: dict[str, str] | None = None,
        expect_all_or_drop: dict[str, str] | None = None,
        expect_all_or_fail: dict[str, str] | None = None,
        table_properties: dict[str, str] | None = None,
        partition_cols: list[str] | None = None,
        **_databricks_only: Any,
    ) -> None:
        """Declare the target of `apply_changes` or of append flows.

        Its `table_properties` and `partition_cols` go to each flow's own table (which holds
        the rows, so `pipelines.reset.allowed: false` keeps them through a full refresh).

        The target of `apply_changes` is defined by `apply_changes` itself here (see the
        module's docstring); the target of append flows is defined by the first flow, as SDP
        needs it declared before its flows (`dp.create_streaming_table`).
        """
        self._pending_cdc_targets[name] = comment
        self._target_properties[name] = (table_properties, partition_cols)
        self._append_targets[name] = [
            *rules_from(expect_all or {}, "WARN"),
            *rules_from(expect_all_or_drop or {}, "DROP"),
            *rules_from(expect_all_or_fail or {}, "FAIL"),
        ]

    def append_flow(
        self,
        *,
        target: str,
        name: str | None = None,
        spark_conf: dict[str, str] | None = None,
        **_databricks_only: Any,
    ) -> Any:
        """`@dlt.append_flow`: the flow's rows, with its own checkpoint, into `target`.

        Locally a streaming table takes one writer only: the file stream sink keeps one commit
        log per table, and a second query writing there fails ("Race while writing batch 0 to
        the file sink metadata log"), or would skip batches the other already committed. So
        each flow writes its own streaming table, named after the flow (its checkpoint, as on
        Databricks, is the flow's), and `appends_defined` makes the target the union of those
        tables, a materialized view. A stream of the target reads the union of the flows'
        streams (`read_stream`), so that each appended row is read once.
        """

        def register(function: QueryFunction) -> None:
            flow = name or function.__name__
            if target in FOREACH_BATCH_SINKS:  # streamed by the driver after the update
                FOREACH_BATCH_SINKS[target].flows.append((flow, function))
                return
            if target in self._sinks:  # one writer per sink: SDP's own flow into it
                frame = _build(flow, function)
                dp.append_flow(target=target, name=flow)(lambda: frame)
                return
            rules = self._append_targets.get(target, [])
            frame = _apply_rules(_build(flow, function), flow, rules, streaming=True)
            properties, partitions = self._target_properties.get(target, (None, None))
            dp.table(
                name=flow,
                spark_conf=with_notebook_conf(spark_conf),
                table_properties=properties,
                partition_cols=partitions,
            )(lambda: frame)
            REGISTRY[flow] = DatasetRecord(name=flow, materialized_view=False, expectations=rules)
            self._append_flows.setdefault(target, []).append(flow)

        return register

    def create_sink(self, name: str, format: str, options: dict[str, str] | None = None) -> None:
        """`dlt.create_sink`: SDP's own sink, written by a checkpointed streaming query."""
        dp.create_sink(name=name, format=format, options=options or {})
        self._sinks.add(name)

    def foreach_batch_sink(self, name: str | None = None) -> Callable[[Any], Any]:
        """Databricks' `foreach_batch_sink`, which SDP lacks: the sink is recorded, and its
        flows streamed into the handler by the driver once the update has completed, each on
        its own checkpoint (`local.foreach_batch`)."""

        def register(handler: Any) -> Any:
            sink = name or handler.__name__
            FOREACH_BATCH_SINKS[sink] = ForeachBatchSink(sink, ProjectHandler.of(handler))
            return handler

        return register

    def appends_defined(self, target: str) -> None:
        """Every flow of `target` is defined: the target becomes the union of their tables."""
        flows = self._append_flows.pop(target, [])
        comment = self._pending_cdc_targets.pop(target, None)

        def union() -> DataFrame:
            return _union([_read(flow, stream=False) for flow in flows])

        frame = _build(target, union)
        properties, _ = self._target_properties.get(target, (None, None))
        dp.materialized_view(name=target, comment=comment, table_properties=properties)(
            lambda: frame
        )
        REGISTRY[target] = DatasetRecord(name=target, materialized_view=True, query=union)
        self._unions[target] = flows

    def apply_changes(self, target: str, source: str, **arguments: Any) -> None:
        """`dlt.apply_changes`: the target becomes the SCD table of `source`'s changes.

        `arguments` are those of `dlt.apply_changes` (see `runtime.scd.change_spec`).
        """
        spec = change_spec(**arguments)
        comment = self._pending_cdc_targets.pop(target, None)

        def changes() -> DataFrame:
            return scd_apply_changes(_whole(source), spec)

        def checks() -> DataFrame:
            return sequence_checks(_whole(source), spec)

        frame = _build(target, changes)
        properties, partitions = self._target_properties.pop(target, (None, None))
        dp.materialized_view(
            name=target,
            comment=comment,
            table_properties=properties,
            partition_cols=partitions,
        )(lambda: frame)
        # The change feed's expectations are the table's to report (DLT shows them on it too),
        # counted on the feed before its rules; then the changes the target leaves out, as WARN
        # rules counted on what apply_changes consumes (DLT does not report them; `runtime.scd`).
        rules, unchecked = VIEW_RULES.get(source, ([], None))
        # A quarantined feed's own DROP rule of the same name already keeps them out.
        sequence_rules = [
            Rule(name, condition, "WARN")
            for name, condition in SEQUENCE_RULES.items()
            if name not in {rule.name for rule in rules}
        ]

        def feed() -> DataFrame:
            assert unchecked is not None
            with _reading_whole():
                return unchecked()

        counted_on_feed = unchecked is not None and bool(rules)
        REGISTRY[target] = DatasetRecord(
            name=target,
            materialized_view=True,
            query=changes,
            expectations=[*rules, *sequence_rules],
            checked=feed if counted_on_feed else checks,
            more_checks=((sequence_rules, checks),) if counted_on_feed else (),
        )

    def create_auto_cdc_flow(
        self, target: str, source: str, flow_name: str | None = None, **arguments: Any
    ) -> None:
        """One change flow into `target`. Without a flow name, the target's only flow
        (`apply_changes`); with one, one of several, applied together once
        `change_flows_defined` says they are all there (`runtime.change_feeds`)."""
        if flow_name is None:
            self.apply_changes(target=target, source=source, **arguments)
            return
        self._change_flows.setdefault(target, []).append((source, change_spec(**arguments)))

    def change_flows_defined(self, target: str) -> None:
        """Every change flow of `target` is defined: the target is the SCD table of all their
        changes, the latest change of a key winning whichever feed brought it."""
        feeds = self._change_flows.pop(target, [])
        comment = self._pending_cdc_targets.pop(target, None)

        def changes() -> DataFrame:
            return apply_changes_of_feeds([(_whole(source), spec) for source, spec in feeds])

        frame = _build(target, changes)
        properties, partitions = self._target_properties.pop(target, (None, None))
        dp.materialized_view(
            name=target, comment=comment, table_properties=properties, partition_cols=partitions
        )(lambda: frame)
        # The feeds' views carry the table's expectations (the same rules on each): the table
        # reports them, counted on every feed's changes before the rules, as for one feed.
        checked = [VIEW_RULES[source] for source, _ in feeds if source in VIEW_RULES]

        def feed_rows() -> DataFrame:
            with _reading_whole():
                return _union([unchecked() for _, unchecked in checked])

        REGISTRY[target] = DatasetRecord(
            name=target,
            materialized_view=True,
            query=changes,
            expectations=list(checked[0][0]) if checked else [],
            checked=feed_rows if checked else None,
        )

    def create_auto_cdc_from_snapshot_flow(
        self,
        target: str,
        source: Any,
        keys: list[str],
        stored_as_scd_type: int | str = 1,
        track_history_column_list: list[str] | None = None,
        track_history_except_column_list: list[str] | None = None,
        **_databricks_only: Any,
    ) -> None:
        """`create_auto_cdc_from_snapshot_flow`: the target is the SCD table of every snapshot.

        `source` is a `runtime.snapshots.SnapshotReader` (its `every_snapshot`), or the name of
        a view read whole at each update, whose earlier reads `snapshot_logs` keeps.
        """
        from .snapshots import SNAPSHOT_VERSION, apply_snapshots

        comment = self._pending_cdc_targets.pop(target, None)
        if isinstance(source, str):
            log = snapshot_log_name(target)
            SNAPSHOT_LOGS[target] = (log, source)
            logged = SparkSession.active().catalog.tableExists(log)

            def every_snapshot() -> DataFrame:
                current = _whole(source)
                if not logged:
                    return current.select("*", F.lit(1).cast("bigint").alias(SNAPSHOT_VERSION))
                earlier = _table(log, stream=False)
                next_version = earlier.agg(
                    (F.coalesce(F.max(SNAPSHOT_VERSION), F.lit(0)) + 1).alias(SNAPSHOT_VERSION)
                )
                return earlier.unionByName(
                    current.crossJoin(next_version), allowMissingColumns=True
                )

        elif hasattr(source, "every_snapshot"):
            every_snapshot = source.every_snapshot
        else:
            raise NotImplementedError(
                "a snapshot source function runs on Databricks only; locally the snapshots come "
                "from the table's YAML (`snapshots:`)"
            )

        def snapshot_table() -> DataFrame:
            return apply_snapshots(
                every_snapshot(),
                keys,
                stored_as_scd_type,
                track_history_column_list,
                track_history_except_column_list,
            )

        frame = _build(target, snapshot_table)
        properties, partitions = self._target_properties.pop(target, (None, None))
        dp.materialized_view(
            name=target, comment=comment, table_properties=properties, partition_cols=partitions
        )(lambda: frame)
        REGISTRY[target] = DatasetRecord(name=target, materialized_view=True, query=snapshot_table)

    # Notebook helpers ---------------------------------------------------------------------

    def display(self, frame: DataFrame) -> None:
        """Nothing to show inside a pipeline run."""


def _union(frames: list[DataFrame]) -> DataFrame:
    """The rows of every frame, columns matched by name (a flow may lack a later column)."""
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other, allowMissingColumns=True)
    return frame


def _whole(source: str) -> DataFrame:
    """Every change of a CDC source, read as a batch even when it is defined as a stream.

    A view of this pipeline is recomputed from its own query with stream reads turned into
    batch reads; anything else is a table.
    """
    query = VIEW_QUERIES.get(source)
    if query is None:
        return _read(source, stream=False)
    with _reading_whole():
        return query()


@contextmanager
def _reading_whole() -> Iterator[None]:
    token = _batch_reads.set(True)
    try:
        yield
    finally:
        _batch_reads.reset(token)


@dataclass(frozen=True)
class ProjectHandler:
    """A project function `handler(df, batch_id)`, named by its module's folder and names.

    Spark Connect runs a foreachBatch function in a Python process of the server, which
    unpickles it there: a function of a project module would be pickled as a reference to a
    module that process cannot find. This object is pickled instead (laktory_pulumi is
    installed where the server's Python runs) and imports the module from its folder when a
    batch comes.
    """

    folder: str
    module_name: str
    function_name: str

    @classmethod
    def of(cls, function: Any) -> Any:
        """The handler of `function`, or `function` itself when its module has no file."""
        import sys
        from pathlib import Path

        module = sys.modules.get(getattr(function, "__module__", ""))
        file = getattr(module, "__file__", None)
        if module is None or file is None:
            return function
        folder = Path(file).parent
        for _ in range(module.__name__.count(".")):  # `udfs.prices` lives in `<folder>/udfs`
            folder = folder.parent
        return cls(str(folder), module.__name__, function.__name__)

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        import importlib
        import sys

        if self.folder not in sys.path:
            sys.path.insert(0, self.folder)
        module = importlib.import_module(self.module_name)
        getattr(module, self.function_name)(df, batch_id)
