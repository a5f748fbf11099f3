"""Table settings as Databricks gets them: the keyword arguments of `dlt.table` /
`dlt.create_streaming_table` (checked against `databricks-dlt`, Databricks' own stub of the
module), masks in the schema DDL, the deployed metadata, and the pipeline's `tags` and
`event_log` through `databricks-sdk`'s `PipelineSpec`.

`databricks-dlt` 0.2.x predates two keywords of the current DLT runtime, `row_filter` and
`cluster_by_auto` (Databricks docs, Python reference of `@dp.table` and
`dp.create_streaming_table`; databrickslabs/sdp-meta passes both to `create_streaming_table`).
Calls are bound to the stub's signature plus exactly those two, and a test fails once the stub
takes them itself, so that the extension goes.
"""

from __future__ import annotations

import base64
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from databricks.sdk.service import pipelines
from pyspark.sql import SparkSession
from test_deploy_api_rules import as_rest_json, round_trip
from test_deploy_components import FULL_PIPELINE, deploy_pipeline
from test_deploy_support import FILE_TYPE, PIPELINE_TYPE, REPO, by_key, write_notebooks

from laktory_pulumi.deploy.preview import OfflineMocks, RecordingMonitor, plan
from laktory_pulumi.loader import load_stack
from laktory_pulumi.metadata import metadata_bytes
from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import dlt as shim

databricks_dlt = pytest.importorskip("dlt", reason="databricks-dlt is in the dev extra")

CURRENT_RUNTIME_KEYWORDS = {
    "table": {"row_filter", "cluster_by_auto"},
    "create_streaming_table": {"row_filter", "cluster_by_auto"},
}

GOVERNED = """\
name: pl-governed
catalog: dev
target: crm
tags: {team: crm, cost_center: "42"}
event_log: {name: pl_governed_events}
tables:
  - name: slv_customers
    row_filter:
      function: dev.governance.by_region
      columns: [region]
    cluster_by: [region]
    cluster_by_auto: true
    table_properties: {pipelines.reset.allowed: false, quality: silver}
    builder:
      layer: SILVER
      table_source: {name: dev.raw.customers}
    timestamp_key: updated_at
    columns:
      - {name: id, type: bigint, sql_expression: data.id}
      - {name: region, sql_expression: data.region, comment: "Sales region, e.g. 'EU'"}
      - name: ssn
        sql_expression: data.ssn
        pii: true
        mask: {function: dev.governance.ssn_mask, using: [region]}
      - {name: updated_at, type: timestamp, sql_expression: data.updated_at}
  - name: slv_customer_keys
    private: true
    builder:
      layer: SILVER
      table_source: {name: slv_customers, read_as_stream: false}
    columns:
      - {name: id, type: bigint, sql_expression: id}
  - name: slv_customers_latest
    partition_cols: [region]
    table_properties: {delta.enableChangeDataFeed: true}
    builder:
      layer: SILVER
      table_source:
        name: slv_customers
        cdc: {primary_keys: [id], sequence_by: updated_at, scd_type: 1}
  - name: brz_events
    cluster_by_auto: true
    builder:
      layer: BRONZE
      event_sources:
        - {name: signup, producer: {name: web}}
        - {name: signup, producer: {name: app}}
"""


class SignatureChecked:
    """The stub module, every call bound to its signature (plus the current runtime's
    keywords) and recorded."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._module, name)
        if not callable(real):
            return real

        def checked(*args: Any, **kwargs: Any) -> Any:
            newer = {
                key: kwargs.pop(key)
                for key in CURRENT_RUNTIME_KEYWORDS.get(name, ())
                if key in kwargs
            }
            bound = inspect.signature(real).bind(*args, **kwargs)  # TypeError if incompatible
            self.calls.append((name, {**bound.arguments, **newer}))
            return real(*args, **kwargs)

        return checked


@pytest.fixture
def databricks(monkeypatch: pytest.MonkeyPatch) -> Iterator[SignatureChecked]:
    monkeypatch.setenv(shim.BACKEND_ENV, "databricks")
    shim.use_backend(None)
    assert shim.backend() is databricks_dlt
    databricks_dlt.enable_local_execution()  # the stub raises otherwise
    checked = SignatureChecked(databricks_dlt)
    shim._backend = checked
    try:
        yield checked
    finally:
        shim.use_backend(None)


def define_all(pipeline: Pipeline) -> None:
    from laktory_pulumi.runtime.tables import define_table

    for table in pipeline.tables:
        define_table(table, spark=None)  # type: ignore[arg-type]  # query functions never run


def test_the_current_runtime_keywords_are_exactly_those_the_stub_lacks() -> None:
    for name, keywords in CURRENT_RUNTIME_KEYWORDS.items():
        parameters = set(inspect.signature(getattr(databricks_dlt, name)).parameters)
        assert not keywords & parameters, f"databricks-dlt's {name} takes them now: drop them"
        assert {"table_properties", "partition_cols", "cluster_by", "path", "schema"} <= parameters
    assert "temporary" in inspect.signature(databricks_dlt.table).parameters


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_the_stock_silver_table_is_clustered_with_its_property(
    databricks: SignatureChecked,
) -> None:
    stack = load_stack(REPO, "dev")
    pipeline = stack.pipelines["pl-stock-prices"]
    define_all(pipeline)
    tables = {args["name"]: args for name, args in databricks.calls if name == "table"}
    silver = tables["slv_stock_prices"]
    assert silver["cluster_by"] == ["symbol"]
    assert silver["table_properties"] == {"quality": "silver"}
    # Nothing else gained a setting it did not ask for.
    assert "cluster_by" not in tables["slv_stock_metadata"]
    assert "table_properties" not in tables["slv_stock_prices_quarantine"]


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_row_filter_mask_private_and_clustering_reach_dlt(databricks: SignatureChecked) -> None:
    define_all(Pipeline.model_validate(yaml.safe_load(GOVERNED)))
    tables = {args["name"]: args for name, args in databricks.calls if name == "table"}
    streaming = {
        args["name"]: args for name, args in databricks.calls if name == "create_streaming_table"
    }

    customers = tables["slv_customers"]
    assert customers["row_filter"] == "ROW FILTER dev.governance.by_region ON (`region`)"
    assert customers["cluster_by"] == ["region"] and customers["cluster_by_auto"] is True
    assert customers["table_properties"] == {
        "pipelines.reset.allowed": "false",
        "quality": "silver",
    }
    # Every column the table ends with, in order, the mask on its column (DLT takes masks in
    # the schema); the system columns the silver builder stamps close it.
    assert customers["schema"].split(",\n") == [
        "`id` bigint",
        "`region` string COMMENT 'Sales region, e.g. \\'EU\\''",
        "`ssn` string MASK dev.governance.ssn_mask USING COLUMNS (`region`)",
        "`updated_at` timestamp",
        "`_rescued_data` string",
        "`_tstamp` timestamp",
        "`_silver_at` timestamp",
    ]
    assert tables["slv_customer_keys"]["temporary"] is True

    latest = streaming["slv_customers_latest"]
    assert latest["partition_cols"] == ["region"]
    assert latest["table_properties"] == {"delta.enableChangeDataFeed": "true"}
    assert streaming["brz_events"]["cluster_by_auto"] is True


def test_the_schema_ddl_lists_the_columns_the_silver_builder_writes() -> None:
    """The DDL's system columns are those `runtime.builders` stamps: a column missing from the
    schema, or one too many, would fail the table on Databricks."""
    from laktory_pulumi.runtime.builders import _system_columns
    from laktory_pulumi.runtime.table_settings import masked_schema

    pipeline = Pipeline.model_validate(yaml.safe_load(GOVERNED))
    table = pipeline.table("slv_customers")
    schema = masked_schema(table)
    assert schema is not None
    names = [line.split(" ", 1)[0].strip("`") for line in schema.split(",\n")]
    assert names == [*(c.name for c in table.columns), *_system_columns(table)]
    assert masked_schema(pipeline.table("slv_customer_keys")) is None


@pytest.mark.spark
def test_the_schema_ddl_names_the_built_columns_in_order(spark: SparkSession) -> None:
    """The columns `process` builds for the masked table, on a real frame, are the DDL's."""
    from laktory_pulumi.runtime.builders import process
    from laktory_pulumi.runtime.table_settings import masked_schema

    table = Pipeline.model_validate(yaml.safe_load(GOVERNED)).table("slv_customers")
    source = spark.sql(
        "SELECT named_struct('id', '1', 'region', 'EU', 'ssn', '123', "
        "'updated_at', '2026-01-01 00:00:00') AS data"
    )
    built = process(table, source)
    schema = masked_schema(table)
    assert schema is not None
    declared = [line.split(" ", 2)[:2] for line in schema.split(",\n")]
    assert [(name.strip("`"), kind) for name, kind in declared] == [
        (field.name, field.dataType.simpleString()) for field in built.schema.fields
    ]


def test_the_settings_are_in_the_deployed_metadata_and_read_back() -> None:
    pipeline = Pipeline.model_validate(yaml.safe_load(GOVERNED))
    written = json.loads(metadata_bytes(pipeline))
    customers = written["tables"][0]
    assert customers["row_filter"] == {
        "function": "dev.governance.by_region",
        "columns": ["region"],
    }
    assert customers["columns"][2]["mask"]["using"] == ["region"]
    again = Pipeline.model_validate(written)
    assert again.table("slv_customers") == pipeline.table("slv_customers")
    assert again.table("slv_customer_keys").private is True


def test_the_stock_plan_carries_the_silver_settings() -> None:
    resources = by_key(plan(REPO, "dev"))
    content = resources[(FILE_TYPE, "pl-stock-prices/metadata")].inputs["contentBase64"]
    metadata = json.loads(base64.b64decode(content))
    (silver,) = [t for t in metadata["tables"] if t["name"] == "slv_stock_prices"]
    assert silver["cluster_by"] == ["symbol"]
    assert silver["table_properties"] == {"quality": "silver"}
    (pipeline,) = [r for r in resources.values() if r.type == PIPELINE_TYPE]
    assert pipeline.inputs["tags"] == {"domain": "finance"}


def test_pipeline_tags_and_event_log_lose_no_key(tmp_path: Path) -> None:
    mocks = OfflineMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="lakehouse", stack="test", monitor=monitor)
    notebooks = write_notebooks(tmp_path / "notebooks", ["dlt_brz_template.py"])
    full = {
        **FULL_PIPELINE,
        "storage": None,
        "catalog": "dev",
        "tags": {"team": "sales", "cost_center": "42"},
        "event_log": {"name": "pl_full_events", "schema": "ops"},
    }
    deploy_pipeline(Pipeline.model_validate(full), notebooks)
    (pipeline,) = [r for r in monitor.registrations if r.type == PIPELINE_TYPE]
    sent = as_rest_json(pipeline.inputs)
    assert round_trip(pipelines.PipelineSpec, sent) == sent
    assert sent["tags"] == {"cost_center": "42", "team": "sales"}
    # The catalog defaults to the pipeline's; the schema is the one given.
    assert sent["event_log"] == {"name": "pl_full_events", "catalog": "dev", "schema": "ops"}


def test_a_private_table_uses_the_keyword_the_runtime_takes() -> None:
    from laktory_pulumi.runtime.table_settings import private_keyword

    def current(query_function=None, *, name=None, private=False):
        """The current runtime's `table` (docs: `private`, no `temporary`)."""

    asked = {"name": "t", "temporary": True}
    assert private_keyword(asked, current) == {"name": "t", "private": True}
    assert private_keyword(asked, databricks_dlt.table) == asked
    assert private_keyword({"name": "t"}, current) == {"name": "t"}
