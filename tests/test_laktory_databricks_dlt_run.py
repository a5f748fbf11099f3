"""A UDF and a transform execute in the Databricks backend: the generic template notebooks run
as Databricks runs them, against a `dlt` module with the interface of Databricks' own.

The DLT runtime cannot exist here; `fake_databricks_dlt.FakeDlt` stands in for it. Each of its
functions takes exactly the parameters of `databricks-dlt`'s (PyPI, Databricks' stub of the
module), checked first. It is installed as `sys.modules['dlt']` and `LAKTORY_DLT_BACKEND=
databricks` makes the shim `import dlt`, the code path of a DLT pipeline. The workspace holds
what the deploy writes (`<laktory root>pipelines/<name>.json` and the project's modules next
to the notebooks), the Spark configuration names the pipeline as the deployed one does, and
each notebook (rendered as deployed, its `%pip` line a comment in Python) runs with `exec`.
Then the fake executes every dataset on the local SparkSession, in batch, upstream first.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_databricks_dlt import FakeDlt
from pyspark.sql import SparkSession

from laktory_pulumi.deploy.artifacts import render_notebook
from laktory_pulumi.metadata import (
    DEFAULT_LAKTORY_ROOT,
    LAKTORY_ROOT_KEY,
    PIPELINE_NAME_KEY,
    WORKSPACE_ROOT_ENV,
    metadata_bytes,
    metadata_workspace_path,
)
from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import dlt as shim

databricks_dlt = pytest.importorskip("dlt", reason="databricks-dlt is in the dev extra")

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[1]
NAME = "pl-dbx-run"
TEMPLATES = ["dlt_gld_template", "dlt_slv_star_template", "dlt_slv_template", "dlt_brz_template"]
"""Run gold first: the order of execution must come from what each table reads."""

UDF_MODULE = "laktory_run_quote_udfs"
TRANSFORM_MODULE = "laktory_run_quote_transforms"

PIPELINE = f"""\
name: {NAME}
udfs:
  - {{module_name: {UDF_MODULE}, function_name: spread}}
tables:
  - name: brz_quotes
    builder:
      layer: BRONZE
      event_source:
        name: quote
        producer: {{name: venue}}
        events_root: EVENTS_ROOT
        read_as_stream: false
  - name: slv_quotes
    builder:
      layer: SILVER
      # brz_quotes reads its events whole (a materialized view): a stream of it is refused.
      table_source: {{name: brz_quotes, read_as_stream: false}}
    transform: {{module_name: {TRANSFORM_MODULE}, function_name: with_band}}
    expectations:
      - {{name: positive_spread, expression: "spread > 0", action: DROP}}
      - {{name: has_band, expression: "band IS NOT NULL", action: WARN}}
    columns:
      - {{name: symbol, sql_expression: symbol}}
      - {{name: spread, type: double, spark_func_name: spread, spark_func_args: [high, low]}}
  - name: gld_quotes
    builder:
      layer: GOLD
      table_source: {{name: slv_quotes, read_as_stream: false}}
      aggregation:
        groupby_columns: [symbol]
        agg_expressions:
          - {{name: widest, sql_expression: max(spread)}}
          - {{name: wide_rows, sql_expression: "count_if(band = 'wide')"}}
"""

UDFS = """\
def spread(high, low):
    # A Laktory UDF: Columns in, a Column out.
    return high - low
"""

TRANSFORMS = """\
from pyspark.sql import functions as F


def with_band(df):
    return df.withColumn("band", F.when(F.col("spread") >= 2, "wide").otherwise("narrow"))
"""

QUOTES = [
    {"symbol": "AAPL", "high": 191.0, "low": 188.0},
    {"symbol": "AAPL", "high": 190.0, "low": 189.5},
    {"symbol": "MSFT", "high": 371.0, "low": 370.0},
    {"symbol": "MSFT", "high": 369.0, "low": 372.0},  # negative spread: dropped
]

STUB_FUNCTIONS = [
    "table",
    "view",
    "expect",
    "expect_or_drop",
    "expect_or_fail",
    "expect_all",
    "expect_all_or_drop",
    "expect_all_or_fail",
    "create_streaming_table",
    "append_flow",
    "read",
    "read_stream",
]


def _parameters(function: Any) -> list[tuple[str, Any, Any]]:
    """How a function may be called: each parameter's name, kind and default."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_the_fake_has_exactly_the_functions_and_parameters_of_databricks_dlt(
    spark: SparkSession,
) -> None:
    fake = FakeDlt(spark)
    exposed = sorted(name for name in vars(FakeDlt) if not name.startswith("_") and name != "run")
    assert exposed == sorted(STUB_FUNCTIONS)
    for name in STUB_FUNCTIONS:
        assert _parameters(getattr(fake, name)) == _parameters(getattr(databricks_dlt, name)), name


@pytest.fixture
def deployed(
    tmp_path: Path, spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The workspace as the deploy writes it, and the Spark conf of the deployed pipeline."""
    events = tmp_path / "landing" / "events"
    (events / "venue" / "quote").mkdir(parents=True)
    lines = "".join(json.dumps(quote) + "\n" for quote in QUOTES)
    (events / "venue" / "quote" / "quotes.json").write_text(lines)

    data = yaml.safe_load(PIPELINE.replace("EVENTS_ROOT", str(events)))
    pipeline = Pipeline.model_validate(data)
    workspace = tmp_path / "workspace"
    metadata = workspace / metadata_workspace_path(NAME, DEFAULT_LAKTORY_ROOT).lstrip("/")
    metadata.parent.mkdir(parents=True)
    metadata.write_bytes(metadata_bytes(pipeline))
    modules = metadata.parent / NAME
    modules.mkdir()
    (modules / f"{UDF_MODULE}.py").write_text(UDFS)
    (modules / f"{TRANSFORM_MODULE}.py").write_text(TRANSFORMS)

    monkeypatch.setenv(WORKSPACE_ROOT_ENV, str(workspace))
    monkeypatch.setenv(shim.BACKEND_ENV, "databricks")
    spark.conf.set(PIPELINE_NAME_KEY, NAME)
    spark.conf.set(LAKTORY_ROOT_KEY, DEFAULT_LAKTORY_ROOT)
    path_before = list(sys.path)
    try:
        yield workspace
    finally:
        spark.conf.unset(PIPELINE_NAME_KEY)
        spark.conf.unset(LAKTORY_ROOT_KEY)
        shim.use_backend(None)
        sys.path[:] = path_before
        for module in (UDF_MODULE, TRANSFORM_MODULE):
            sys.modules.pop(module, None)


def _run_notebook(name: str) -> None:
    """Run a template as a DLT pipeline runs its notebook: top to bottom, as Python."""
    source = (REPO / "notebooks" / f"{name}.py").read_text()
    rendered = render_notebook(source, "/Workspace/.laktory/wheels/pl/laktory.whl")
    exec(compile(rendered, f"{name}.py", "exec"), {"__name__": "__main__"})


def test_templates_run_a_udf_and_a_transform_on_the_databricks_backend(
    deployed: Path, spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeDlt(spark)
    monkeypatch.setitem(sys.modules, "dlt", fake)
    shim.use_backend(None)
    assert shim.backend() is fake  # the shim imported `dlt`, as inside a DLT pipeline
    assert shim.backend_name() == "databricks" and not shim.is_debug()

    for notebook in TEMPLATES:
        _run_notebook(notebook)
    assert sorted(fake.datasets) == ["brz_quotes", "gld_quotes", "slv_quotes"]
    assert fake.executed == []  # defining runs no query, as in DLT

    outputs = fake.run()
    assert fake.executed == ["brz_quotes", "slv_quotes", "gld_quotes"]

    # The UDF computed spread, the transform added band, the DROP rule removed MSFT's
    # negative spread, and the WARN rule counted no row without a band.
    silver = outputs["slv_quotes"]
    assert {"symbol", "spread", "band", "_silver_at"} <= set(silver.columns)
    assert sorted((r.symbol, r.spread, r.band) for r in silver.collect()) == [
        ("AAPL", 0.5, "narrow"),
        ("AAPL", 3.0, "wide"),
        ("MSFT", 1.0, "narrow"),
    ]
    assert fake.warned == {"slv_quotes.has_band": 0}

    gold = outputs["gld_quotes"]
    assert sorted((r.symbol, r.widest, r.wide_rows) for r in gold.collect()) == [
        ("AAPL", 3.0, 1),
        ("MSFT", 1.0, 0),
    ]


def test_the_fake_stops_the_update_on_a_failing_rule(spark: SparkSession) -> None:
    from fake_databricks_dlt import ExpectationFailed

    fake = FakeDlt(spark)
    query = fake.expect_or_fail("never", "id < 0")(lambda: spark.range(1))
    fake.table(query, name="always_fails")
    with pytest.raises(ExpectationFailed, match="always_fails: expectation never failed"):
        fake.run()
