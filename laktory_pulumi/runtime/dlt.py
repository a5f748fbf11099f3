"""`from laktory_pulumi import dlt`: one `dlt` API for Databricks, local runs and debugging.

The backend is chosen on first use:

- inside a Databricks DLT pipeline: Databricks' own `dlt` module, unchanged;
- inside Spark Declarative Pipelines (`laktory-pulumi run`, or `LAKTORY_DLT_BACKEND=sdp`):
  `dlt_sdp.SdpBackend`, on `pyspark.pipelines`;
- anywhere else (a notebook debugging a template, a test): `dlt_eager.EagerBackend`, where
  decorators run at once and `get_df` returns the DataFrame.

`LAKTORY_DLT_BACKEND` (`databricks`, `sdp` or `eager`) forces a choice. Notebooks set
`dlt.spark = spark` so the shim uses the notebook's session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..metadata import on_databricks
from .deduplication import deduplicate, deferred_query, defers_deduplication, with_finishing_step
from .expectations import by_action, rules_of

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models import Table

BACKEND_ENV = "LAKTORY_DLT_BACKEND"
BACKENDS = ("databricks", "sdp", "eager")

spark: SparkSession | None = None
"""The notebook's session; `SparkSession.active()` when unset."""

_backend: Any = None


def backend() -> Any:
    """The backend in use (chosen once per process)."""
    global _backend
    if _backend is None:
        _backend = _choose(os.environ.get(BACKEND_ENV, "").lower())
    return _backend


def use_backend(name: str | None) -> Any:
    """Switch backends (`None` chooses again on next use); for tests and the local driver."""
    global _backend
    _backend = None if name is None else _choose(name)
    return _backend


def install_backend(chosen: Any) -> Any:
    """Use the backend object `chosen` (None chooses again on next use): the deep check's."""
    global _backend
    _backend = chosen
    return chosen


def backend_name() -> str:
    """`databricks`, `sdp` or `eager`."""
    chosen = backend()
    return getattr(chosen, "name", "databricks")


def is_debug() -> bool:
    """True outside any pipeline: decorators have run and `get_df` has the DataFrames."""
    return backend_name() == "eager"


def _choose(name: str) -> Any:
    if name and name not in BACKENDS:
        raise ValueError(f"{BACKEND_ENV}={name!r}: expected one of {', '.join(BACKENDS)}")
    if name == "databricks" or (not name and _in_dlt_pipeline()):
        import dlt as databricks_dlt  # type: ignore[import-not-found]  # Databricks only

        return databricks_dlt
    if name == "sdp" or (not name and _in_sdp_pipeline()):
        from .dlt_sdp import SdpBackend

        return SdpBackend()
    from .dlt_eager import EagerBackend

    return EagerBackend()


def _in_dlt_pipeline() -> bool:
    """A DLT update sets `pipelines.id` in the Spark conf of the pipeline's cluster."""
    if not on_databricks():
        return False
    from pyspark.sql import SparkSession

    session = spark or SparkSession.getActiveSession()
    return session is not None and bool(session.conf.get("pipelines.id", None))


def _in_sdp_pipeline() -> bool:
    """`spark-pipelines run` imports the notebooks with a graph element registry active."""
    try:
        from pyspark.pipelines.graph_element_registry import get_active_graph_element_registry

        get_active_graph_element_registry()
    except Exception:  # no registry (an assertion), or pyspark without pipelines
        return False
    return True


# The API of Databricks' `dlt` module, delegated -------------------------------------------


def table(query_function: Callable[[], DataFrame] | None = None, **options: Any) -> Any:
    """`@dlt.table(name=..., comment=...)`: a streaming table or materialized view."""
    return backend().table(query_function, **options)


def view(query_function: Callable[[], DataFrame] | None = None, **options: Any) -> Any:
    """`@dlt.view(name=...)`: a dataset visible inside the pipeline only."""
    return backend().view(query_function, **options)


def read(name: str) -> DataFrame:
    """A dataset of the pipeline, read whole."""
    return backend().read(name)


def read_stream(name: str) -> DataFrame:
    """A dataset of the pipeline, read as a stream."""
    return backend().read_stream(name)


def read_stream_with_watermark(name: str, column: str, threshold: str) -> DataFrame:
    """A dataset of the pipeline as a stream whose event time `column` may lag `threshold`."""
    chosen = backend()
    if hasattr(chosen, "read_stream_with_watermark"):
        return chosen.read_stream_with_watermark(name, column, threshold)
    return chosen.read_stream(name).withWatermark(column, threshold)


def expect(name: str, condition: str) -> Any:
    """Keep rows failing `condition`; count them."""
    return backend().expect(name, condition)


def expect_or_drop(name: str, condition: str) -> Any:
    """Drop rows failing `condition`."""
    return backend().expect_or_drop(name, condition)


def expect_or_fail(name: str, condition: str) -> Any:
    """Stop the update when a row fails `condition`."""
    return backend().expect_or_fail(name, condition)


def expect_all(expectations: Mapping[str, str]) -> Any:
    """`expect` for each `{name: condition}`."""
    return backend().expect_all(dict(expectations))


def expect_all_or_drop(expectations: Mapping[str, str]) -> Any:
    """`expect_or_drop` for each `{name: condition}`."""
    return backend().expect_all_or_drop(dict(expectations))


def expect_all_or_fail(expectations: Mapping[str, str]) -> Any:
    """`expect_or_fail` for each `{name: condition}`."""
    return backend().expect_all_or_fail(dict(expectations))


def create_streaming_table(name: str, **options: Any) -> None:
    """Declare the target of `apply_changes`."""
    backend().create_streaming_table(name=name, **options)


def append_flow(**options: Any) -> Any:
    """`@dlt.append_flow(target=..., name=...)`: one more flow appending into a streaming table."""
    return backend().append_flow(**options)


def create_sink(name: str, format: str, options: Mapping[str, str] | None = None) -> None:
    """`dlt.create_sink`: a destination outside the pipeline, fed by append flows."""
    backend().create_sink(name=name, format=format, options=dict(options or {}))


FOREACH_BATCH_SINK_PAGE = (
    "https://docs.databricks.com/gcp/en/ldp/developer/ldp-python-ref-foreach-batch-sink"
)
"""Databricks' reference of `@dp.foreach_batch_sink(name=...)` (Public Preview)."""


class ForeachBatchSinkUnavailable(RuntimeError):
    """The pipeline's runtime has no `foreach_batch_sink`."""


def foreach_batch_sink(name: str, handler: Callable[[DataFrame, int], None]) -> None:
    """`@dp.foreach_batch_sink(name=name)` around `handler(df, batch_id)`: a sink whose every
    micro-batch, from the append flows targeting it, is handed to `handler`.

    The decorator is Databricks' ("foreach_batch_sink", `FOREACH_BATCH_SINK_PAGE`): the
    runtime's `dlt` module's, else its `pyspark.pipelines` module's. databricks-dlt 0.3.0 and
    pyspark 4.3 have none, so a runtime without it fails here, naming the sink, rather than
    with an AttributeError. Locally (`SdpBackend`) the run hands the batches over itself.
    """
    chosen = backend()
    decorator = getattr(chosen, "foreach_batch_sink", None)
    if decorator is None and backend_name() == "databricks":
        decorator = _pipelines_foreach_batch_sink()
    if decorator is None:
        raise ForeachBatchSinkUnavailable(
            f"sink {name}: this pipeline's runtime has no foreach_batch_sink (neither its dlt "
            "module nor pyspark.pipelines; databricks-dlt 0.3.0 and pyspark 4.3 have none). "
            "foreach_batch sinks need a Lakeflow Declarative Pipelines runtime with the "
            "foreach_batch_sink API (Public Preview, in the CURRENT and PREVIEW channels), "
            f"{FOREACH_BATCH_SINK_PAGE}; or publish with format kafka or delta"
        )
    decorator(name=name)(handler)


def _pipelines_foreach_batch_sink() -> Any:
    """`pyspark.pipelines.foreach_batch_sink` where the runtime's pyspark has it, else None."""
    try:
        from pyspark import pipelines
    except ImportError:
        return None
    return getattr(pipelines, "foreach_batch_sink", None)


def appends_defined(target: str) -> None:
    """Say every append flow of `target` is defined; for the backends that need to know (SDP).

    Not a call of Databricks' `dlt`: there, the flows are all DLT needs.
    """
    chosen = backend()
    if hasattr(chosen, "appends_defined"):
        chosen.appends_defined(target)


def apply_changes(**options: Any) -> Any:
    """Apply a change feed to a target (SCD type 1 or 2)."""
    return backend().apply_changes(**options)


def create_auto_cdc_flow(**options: Any) -> Any:
    """One change flow into a target: DLT's `create_auto_cdc_flow`, which replaced
    `apply_changes` with the same signature (DLT's Python reference, "create_auto_cdc_flow");
    a backend with the older name only gets `apply_changes`."""
    chosen = backend()
    call = getattr(chosen, "create_auto_cdc_flow", None) or chosen.apply_changes
    return call(**options)


def create_auto_cdc_from_snapshot_flow(**options: Any) -> Any:
    """A flow applying full snapshots to a target: DLT's `create_auto_cdc_from_snapshot_flow`,
    which replaced `apply_changes_from_snapshot` with the same signature (DLT's Python
    reference, "create_auto_cdc_from_snapshot_flow"); a backend with the older name only
    gets `apply_changes_from_snapshot`."""
    chosen = backend()
    call = getattr(chosen, "create_auto_cdc_from_snapshot_flow", None)
    return (call or chosen.apply_changes_from_snapshot)(**options)


def change_flows_defined(target: str) -> None:
    """Say every change flow of `target` is defined; for the backends that need to know (SDP).

    Not a call of Databricks' `dlt`: there, the flows are all DLT needs.
    """
    chosen = backend()
    if hasattr(chosen, "change_flows_defined"):
        chosen.change_flows_defined(target)


def display(frame: DataFrame) -> None:
    """Databricks' `display` on Databricks; `show` in debug; nothing inside a local run."""
    chosen = backend()
    if hasattr(chosen, "display"):
        chosen.display(frame)
        return
    try:  # a Databricks notebook has `display` among its IPython globals
        from IPython import get_ipython  # type: ignore[import-not-found]

        shell = get_ipython()
        notebook_display = shell.user_ns.get("display") if shell is not None else None
    except ImportError:
        notebook_display = None
    if notebook_display is not None:
        notebook_display(frame)


def get_df(dataset: Any) -> DataFrame | None:
    """The DataFrame of a dataset defined in debug mode (the wrapper `@dlt.table` returned);
    None inside a pipeline, where nothing runs while the notebook defines its datasets
    (Laktory v0.0.22's `dlt.get_df`, which its templates call whatever the mode)."""
    chosen = backend()
    if not hasattr(chosen, "get_df"):
        return None
    return chosen.get_df(dataset)


# Helpers for laktory's templates -----------------------------------------------------------


def expectations(table: Table) -> Callable[[Any], Any]:
    """A decorator adding all of a table's expectations, each with its action.

    A table that drops duplicates does so after its expectations, so that they and its
    quarantine see every row (see `deduplication`).
    """
    rules = rules_of(table)
    decorators = [
        decorate(group)
        for decorate, group in (
            (expect_all, by_action(rules, "WARN")),
            (expect_all_or_drop, by_action(rules, "DROP")),
            (expect_all_or_fail, by_action(rules, "FAIL")),
        )
        if group
    ]

    def apply(function: Any) -> Any:
        deferring = defers_deduplication(table)
        if deferring:
            function = deferred_query(table, function)
        if deferring and backend_name() == "databricks":
            return _checked_then_deduplicated(table, function, decorators)
        for decorator in reversed(decorators):
            function = decorator(function)
        if deferring:
            function = with_finishing_step(function, lambda frame: deduplicate(table, frame))
        return function

    return apply


def checked_view_name(table: Table) -> str:
    """The view holding a table's rows after its expectations, before deduplication."""
    return f"{table.name}_expected"


def _checked_then_deduplicated(
    table: Table, function: Callable[[], DataFrame], decorators: list[Callable[[Any], Any]]
) -> Callable[[], DataFrame]:
    """Databricks: the rules on a view of the checked rows; the table deduplicates the view.

    Native expectations apply to a query's result, so only a second dataset can come after
    them (Databricks docs, "Manage data quality with pipeline expectations").
    """
    for decorator in reversed(decorators):
        function = decorator(function)
    view(function, name=checked_view_name(table))
    streaming = table.builder.source.read_as_stream

    def deduplicated() -> DataFrame:
        name = checked_view_name(table)
        return deduplicate(table, read_stream(name) if streaming else read(name))

    deduplicated.__name__ = getattr(function, "__name__", "deduplicated")
    return deduplicated
