"""Quarantines of several flows and of change feeds, and sinks, as the Databricks backend
defines them (issue #20 items 3, 4 and 6; issue #24 case 14), and sinks in the graph.

Every call reaching the `dlt` module is bound to the signature of `databricks-dlt`, Databricks'
own stub of it (see `test_udfs_databricks_dlt.py`). `create_sink` is in the runtime's `dlt` but
not in the stub (0.2.1, 0.3.0): its calls are bound to pyspark's `pipelines.api.create_sink`,
which Databricks documents as the same function, `dlt.create_sink(name, format, options)` and
`dp.create_sink(...)` alike ("create_sink", https://docs.databricks.com/aws/en/dlt-ref/
dlt-python-ref-sink). The secret scope is Databricks' API: a stand-in answers
`dbutils.secrets.get`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_udfs_databricks_dlt import SignatureChecked

from laktory_pulumi.graph.mermaid import mermaid
from laktory_pulumi.graph.model import build_graph
from laktory_pulumi.loader import LoadError, load_pipeline_file
from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import dlt as shim
from laktory_pulumi.runtime import sinks as runtime_sinks

databricks_dlt = pytest.importorskip("dlt", reason="databricks-dlt is in the dev extra")

PIPELINE = """\
name: pl-streams
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz_orders
    quarantine: true
    expectations:
      - {name: has_order, expression: order_id IS NOT NULL, action: DROP}
    builder:
      layer: BRONZE
      event_sources:
        - {name: order, producer: {name: shop}}
        - {name: order, producer: {name: partner}}
  - name: slv_customers
    quarantine: true
    builder:
      layer: SILVER
      table_source:
        name: brz_changes
        cdc: {primary_keys: [id], sequence_by: seq, scd_type: 2}
  - name: brz_changes
    builder:
      layer: BRONZE
      event_source: {name: change, producer: {name: shop}}
sinks:
  - name: orders_kafka
    table: brz_orders
    format: kafka
    options:
      kafka.bootstrap.servers: "broker:9093"
      topic: orders
      kafka.sasl.jaas.config: 'PlainLoginModule required username="u" password="${secret.kafka/password}";'
  - name: orders_delta
    table: brz_orders
    format: delta
    options: {tableName: main.out.orders}
    where: "customer IS NOT NULL"
"""


class WithSinks(SignatureChecked):
    """The stub, and `create_sink` bound to its documented signature (the stub lacks it)."""

    def __getattr__(self, name: str) -> Any:
        if name != "create_sink":
            return super().__getattr__(name)
        from pyspark.pipelines.api import create_sink

        def checked(*args: Any, **kwargs: Any) -> None:
            bound = inspect.signature(create_sink).bind(*args, **kwargs)
            self.calls.append((name, dict(bound.arguments)))

        return checked


class Secrets:
    """`dbutils.secrets` of a workspace holding one secret."""

    def get(self, scope: str, key: str) -> str:
        assert (scope, key) == ("kafka", "password")
        return "s3cret"


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    path = tmp_path / "pl-streams.yaml"
    path.write_text(PIPELINE)
    return load_pipeline_file(path, {})


@pytest.fixture
def databricks(monkeypatch: pytest.MonkeyPatch) -> Iterator[WithSinks]:
    monkeypatch.setenv(shim.BACKEND_ENV, "databricks")
    monkeypatch.setattr(runtime_sinks, "_secret_reader", lambda spark: Secrets())
    shim.use_backend(None)
    assert shim.backend() is databricks_dlt
    databricks_dlt.enable_local_execution()  # the stub raises otherwise
    checked = WithSinks(databricks_dlt)
    shim._backend = checked
    try:
        yield checked
    finally:
        shim.use_backend(None)


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_quarantines_and_sinks_define_with_calls_databricks_dlt_accepts(
    pipeline: Pipeline, databricks: WithSinks
) -> None:
    from laktory_pulumi.runtime.tables import define_table

    for table in pipeline.tables:
        define_table(table, spark=None)  # type: ignore[arg-type]  # query functions never run
    calls = databricks.calls

    # One quarantine streaming table, fed by one append flow per source, named by flow key.
    streaming = [args["name"] for name, args in calls if name == "create_streaming_table"]
    assert streaming == ["brz_orders", "brz_orders_quarantine", "slv_customers"]
    flows = [(args["target"], args["name"]) for name, args in calls if name == "append_flow"]
    assert flows == [
        ("brz_orders", "brz_orders__events_shop_order"),
        ("brz_orders", "brz_orders__events_partner_order"),
        ("brz_orders_quarantine", "brz_orders_quarantine__events_shop_order"),
        ("brz_orders_quarantine", "brz_orders_quarantine__events_partner_order"),
        ("orders_kafka", "orders_kafka_flow"),
        ("orders_delta", "orders_delta_flow"),
    ]

    # The change feed drops NULL sequences before apply_changes; the quarantine streams them.
    drops = [args["expectations"] for name, args in calls if name == "expect_all_or_drop"]
    assert {"sequence_not_null": "(seq) IS NOT NULL"} in drops
    tables = [args["name"] for name, args in calls if name == "table"]
    assert "slv_customers_quarantine" in tables
    order = [name for name, args in calls if name in ("table", "apply_changes")]
    assert order.index("apply_changes") > tables.index("slv_customers_quarantine")

    # Sinks: create_sink with DLT's formats; the secret read from its scope, at run time only.
    sinks = {args["name"]: args for name, args in calls if name == "create_sink"}
    assert sinks["orders_kafka"]["format"] == "kafka"
    assert sinks["orders_kafka"]["options"] == {
        "kafka.bootstrap.servers": "broker:9093",
        "topic": "orders",
        "kafka.sasl.jaas.config": 'PlainLoginModule required username="u" password="s3cret";',
    }
    assert sinks["orders_delta"] == {
        "name": "orders_delta",
        "format": "delta",
        "options": {"tableName": "main.out.orders"},
    }


def test_a_sink_secret_is_a_reference_in_the_definitions(pipeline: Pipeline) -> None:
    (kafka, delta) = pipeline.sinks
    jaas = kafka.options["kafka.sasl.jaas.config"]
    assert jaas == 'PlainLoginModule required username="u" password="{{secrets/kafka/password}}";'
    assert "s3cret" not in pipeline.model_dump_json()
    # A Kafka sink publishes each row as JSON in `value` unless told otherwise.
    assert kafka.selected == ["to_json(struct(*)) AS value"]
    assert delta.selected is None and delta.written_locally_as == "parquet"
    assert kafka.written_locally_as == "json"


def test_a_secret_variable_elsewhere_in_a_sink_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "pl.yaml"
    path.write_text(PIPELINE.replace("secret.kafka/password", "secret.kafka"))
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, {})
    (error,) = caught.value.errors
    assert error.field == "sinks[0].options.kafka.sasl.jaas.config"
    assert "is not a secret reference" in error.message


def test_the_graph_draws_each_sink_fed_by_its_table(pipeline: Pipeline) -> None:
    graph = build_graph(pipeline)
    sinks = [node for node in graph.nodes if node.kind == "sink"]
    assert [node.lines for node in sinks] == [
        ("orders_kafka", "SINK: kafka"),
        ("orders_delta", "SINK: delta"),
    ]
    edges = {(edge.source, edge.target) for edge in graph.edges if edge.kind == "sink"}
    assert edges == {("tbl_brz_orders", "snk_orders_kafka"), ("tbl_brz_orders", "snk_orders_delta")}
    text = mermaid(pipeline)
    assert 'snk_orders_kafka>"orders_kafka<br/>SINK: kafka"]' in text
    assert "tbl_brz_orders ==>|sink| snk_orders_kafka" in text
    assert "classDef sink" in text


def test_a_quarantine_of_several_flows_counts_the_rows_its_flows_wrote_this_run(
    tmp_path: Path,
) -> None:
    from laktory_pulumi.local.events import Event
    from laktory_pulumi.local.report import RunReport

    report = RunReport(
        pipeline="pl-streams",
        log_file=tmp_path / "x.log",
        say=lambda _: None,
        quarantines={"brz_orders": "brz_orders_quarantine"},
    )
    report.quarantine_flows = {
        "brz_orders": ["brz_orders_quarantine__a", "brz_orders_quarantine__b"]
    }
    # A second run: each flow's streaming table had rows before; the union (a materialized
    # view, rewritten whole) holds them all.
    for table, before, total, view in [
        ("brz_orders", 0, 12, True),
        ("brz_orders_quarantine__a", 2, 3, False),
        ("brz_orders_quarantine__b", 1, 4, False),
        ("brz_orders_quarantine", 0, 7, True),
    ]:
        metrics = {"rows_before": before, "rows_total": total, "materialized_view": view}
        report.handle(Event("table_counts", table=table, metrics=metrics))
    report.handle(Event("update_ended", state="COMPLETED"))
    state = report.state("COMPLETED")
    assert state.tables["brz_orders"].quarantined == 4  # 1 + 3, not the view's 7
    assert state.tables["brz_orders_quarantine__b"].rows_written == 3


# foreach_batch sinks (issue #20 Build item 4) --------------------------------------------------


def documented_foreach_batch_sink(name: str | None = None) -> Any:
    """`@dp.foreach_batch_sink(name=...)` as Databricks documents it, the stub and pyspark 4.3
    having none: "name: Optional. A unique name to identify the sink within the pipeline",
    decorating `batch_handler(df, batch_id)` ("foreach_batch_sink",
    https://docs.databricks.com/gcp/en/ldp/developer/ldp-python-ref-foreach-batch-sink)."""


class WithForeachBatch(WithSinks):
    """The stub with `foreach_batch_sink` bound to its documented signature; the handlers it
    decorated, by sink."""

    def __init__(self, module: Any) -> None:
        super().__init__(module)
        self.handlers: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name != "foreach_batch_sink":
            return super().__getattr__(name)

        def checked(*args: Any, **kwargs: Any) -> Any:
            bound = inspect.signature(documented_foreach_batch_sink).bind(*args, **kwargs)
            self.calls.append((name, dict(bound.arguments)))

            def decorate(handler: Any) -> Any:
                assert list(inspect.signature(handler).parameters) == ["df", "batch_id"]
                self.handlers[bound.arguments.get("name") or handler.__name__] = handler
                return handler

            return decorate

        return checked


FOREACH_BATCH = """\
  - name: orders_handled
    table: brz_orders
    format: foreach_batch
    function: {module_name: order_handlers, function_name: handle}
    where: "customer IS NOT NULL"
"""

HANDLERS = "def handle(df, batch_id):\n    df.write.mode('overwrite').json(f'/out/{batch_id}')\n"


@pytest.fixture
def foreach_batch(tmp_path: Path) -> Iterator[Pipeline]:
    from laktory_pulumi.runtime.udfs import modules_from_source

    path = tmp_path / "pl-streams.yaml"
    path.write_text(PIPELINE + FOREACH_BATCH)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "order_handlers.py").write_text(HANDLERS)
    with modules_from_source(notebooks):  # where the deploy would have put the module
        yield load_pipeline_file(path, {})


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_a_foreach_batch_sink_is_the_documented_decorator_fed_by_an_append_flow(
    foreach_batch: Pipeline, databricks: WithSinks
) -> None:
    from laktory_pulumi.runtime.tables import define_table

    checked = WithForeachBatch(databricks._module)
    shim._backend = checked
    define_table(foreach_batch.table("brz_orders"), spark=None)  # type: ignore[arg-type]
    calls = checked.calls
    named = [(name, args) for name, args in calls if name in ("foreach_batch_sink", "append_flow")]
    position = named.index(("foreach_batch_sink", {"name": "orders_handled"}))
    flow = named[position + 1]
    assert flow[0] == "append_flow"
    assert (flow[1]["target"], flow[1]["name"]) == ("orders_handled", "orders_handled_flow")
    # The handler is the project's own function, imported from the deployed modules' folder.
    handler = checked.handlers["orders_handled"]
    assert (handler.__module__, handler.__name__) == ("order_handlers", "handle")
    # No create_sink for it: the other sinks keep theirs.
    assert [a["name"] for n, a in calls if n == "create_sink"] == ["orders_kafka", "orders_delta"]


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_a_runtime_without_foreach_batch_sink_fails_naming_the_sink_and_what_it_needs(
    foreach_batch: Pipeline, databricks: WithSinks
) -> None:
    from laktory_pulumi.runtime.tables import define_table

    with pytest.raises(shim.ForeachBatchSinkUnavailable) as caught:
        define_table(foreach_batch.table("brz_orders"), spark=None)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("sink orders_handled: this pipeline's runtime has no")
    assert "databricks-dlt 0.3.0 and pyspark 4.3 have none" in message
    assert "Public Preview" in message and shim.FOREACH_BATCH_SINK_PAGE in message
