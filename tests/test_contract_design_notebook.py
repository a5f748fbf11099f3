"""The design document's notebook and lakehouse-as-code's pipeline run as written (issue #18).

The design document's silver template (Laktory v0.0.22's own, tests/data/laktory_v0_0_22)
calls `read_metadata(pipeline=pl_name)`, `table.layer`, `table.builder.read_source(spark)`,
`table.builder.process(df, spark=spark)`, `dlt.get_df(wrapper)` and `display(df)`. It builds
the stock pipeline's silver tables:

- under the databricks-dlt signature backend (`fake_databricks_dlt.FakeDlt`, as in
  test_laktory_databricks_dlt_run.py), with the project's own stock pipeline;
- in a local SDP run, as the silver template of lakehouse-as-code's stock pipeline
  (tests/data/lakehouse_as_code), whose own gold notebook builds `template:
  STOCK_PERFORMANCES`, sets the session's time zone with `spark.conf.set` and imports the
  pipeline's UDF module: one run for both.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_databricks_dlt import FakeDlt
from pyspark.sql import SparkSession
from test_contract_templates import lakehouse_project
from test_local_support import (
    SILVER_COLUMNS,
    STOCK_DATABASE,
    STOCK_EVENTS,
    land,
    land_stock_metadata,
    read_table,
    run,
    run_state,
    stock_lines,
)

from laktory_pulumi.deploy.artifacts import render_notebook
from laktory_pulumi.loader import load_stack
from laktory_pulumi.metadata import (
    DEFAULT_LAKTORY_ROOT,
    LAKTORY_ROOT_KEY,
    PIPELINE_NAME_KEY,
    WORKSPACE_ROOT_ENV,
    metadata_bytes,
    metadata_workspace_path,
)
from laktory_pulumi.runtime import dlt as shim
from laktory_pulumi.runtime.readers import LANDING_ROOT_KEY

pytest.importorskip("dlt", reason="databricks-dlt is in the dev extra")

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[1]
DESIGN_TEMPLATE = REPO / "tests" / "data" / "laktory_v0_0_22" / "dlt_slv_template.py"
PIPELINE = "pl-stock-prices"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    land(landing, STOCK_EVENTS, "prices.json", stock_lines())
    land_stock_metadata(landing)
    return landing


@pytest.fixture
def deployed_stock_pipeline(
    tmp_path: Path, landing: Path, spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeDlt]:
    """The project's stock pipeline deployed to a workspace folder, inside a "DLT update".

    FakeDlt executes every dataset in batch, as one triggered update; the stock pipeline's
    stream reads become batch reads here (the only change to its file).
    """
    project = tmp_path / "project"
    (project / "stacks" / "pipelines").mkdir(parents=True)
    for file in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copyfile(REPO / file, project / file)
    text = (REPO / "stacks" / "pipelines" / f"{PIPELINE}.yaml").read_text()
    batch = text.replace("read_as_stream: True", "read_as_stream: False")
    assert batch != text
    (project / "stacks" / "pipelines" / f"{PIPELINE}.yaml").write_text(batch)
    (project / "notebooks").symlink_to(REPO / "notebooks", target_is_directory=True)
    pipeline = load_stack(project, "dev").pipelines[PIPELINE]

    workspace = tmp_path / "workspace"
    metadata = workspace / metadata_workspace_path(PIPELINE, DEFAULT_LAKTORY_ROOT).lstrip("/")
    metadata.parent.mkdir(parents=True)
    metadata.write_bytes(metadata_bytes(pipeline))
    monkeypatch.setenv(WORKSPACE_ROOT_ENV, str(workspace))
    monkeypatch.setenv(shim.BACKEND_ENV, "databricks")
    fake = FakeDlt(spark)
    monkeypatch.setitem(sys.modules, "dlt", fake)
    confs = {
        PIPELINE_NAME_KEY: PIPELINE,
        LAKTORY_ROOT_KEY: DEFAULT_LAKTORY_ROOT,
        LANDING_ROOT_KEY: str(landing),
    }
    for key, value in confs.items():
        spark.conf.set(key, value)
    shim.use_backend(None)
    try:
        yield fake
    finally:
        for key in confs:
            spark.conf.unset(key)
        shim.use_backend(None)
        shim.spark = None


def run_notebook(path: Path, spark: SparkSession, shown: list[Any]) -> None:
    """A notebook as DLT runs it: top to bottom, with a notebook's `spark` and `display`."""
    rendered = render_notebook(path.read_text(), "/Workspace/.laktory/wheels/pl/laktory.whl")
    scope = {"__name__": "__main__", "spark": spark, "display": shown.append}
    exec(compile(rendered, path.name, "exec"), scope)


def test_the_design_documents_template_builds_silver_on_databricks_dlt(
    deployed_stock_pipeline: FakeDlt, spark: SparkSession
) -> None:
    fake = deployed_stock_pipeline
    assert shim.backend() is fake and shim.backend_name() == "databricks"
    shown: list[Any] = []
    run_notebook(REPO / "notebooks" / "dlt_brz_template.py", spark, shown)
    run_notebook(DESIGN_TEMPLATE, spark, shown)

    assert sorted(fake.datasets) == [
        "brz_stock_metadata",
        "brz_stock_prices",
        "slv_stock_metadata",
        "slv_stock_prices",
    ]
    # Inside a pipeline nothing runs while the notebook defines: get_df gives None, as Laktory's.
    assert shown == [None, None]
    outputs = fake.run()
    silver = outputs["slv_stock_prices"]
    assert silver.count() == len(stock_lines()) == 7012
    types = dict(silver.dtypes)
    assert {name: types.get(name) for name in SILVER_COLUMNS} == SILVER_COLUMNS
    assert {"_tstamp", "_silver_at"} <= set(silver.columns)
    assert "data" not in silver.columns  # silver drops its source's columns (Laktory's default)
    metadata = outputs["slv_stock_metadata"]
    assert sorted(row.symbol for row in metadata.collect()) == ["AAPL", "AMZN", "GOOGL", "MSFT"]


@pytest.mark.slow
def test_lakehouse_as_code_runs_locally_with_the_design_documents_template(
    tmp_path: Path, landing: Path, spark: SparkSession
) -> None:
    project = lakehouse_project(tmp_path)
    shutil.copyfile(DESIGN_TEMPLATE, project / "notebooks" / "dlt_slv_template.py")
    pipeline_file = project / "stacks" / "pipelines" / f"{PIPELINE}.yaml"
    text = pipeline_file.read_text()
    # lakehouse-as-code's daily gold aggregation streams its source without a watermark, as
    # written: DLT rewrites such a table in full at each update (complete output mode), and
    # the local run computes it as a materialized view, the same rows.
    by_day = text.index("- name: gld_stock_prices_by_1d")
    assert "read_as_stream: True" in text[by_day : text.index("aggregation:", by_day)]
    state = tmp_path / "state"
    assert run(project, PIPELINE, landing, state, "--idle-timeout", "0") == 0

    tables = run_state(state).tables
    assert tables["slv_stock_prices"].rows_written == 7012
    assert tables["gld_stock_performances"].rows_written == 4
    daily = read_table(spark, state, "gld_stock_prices_by_1d", STOCK_DATABASE)
    days = daily.select("symbol", "window_start").distinct().count()
    assert daily.count() == days > 0  # one row per symbol and day, each group once
    silver = read_table(spark, state, "slv_stock_prices", STOCK_DATABASE)
    # The pipeline's pandas UDF (its `udfs`, lakehouse-as-code's stock_functions) named them;
    # its mapping misspells AAPL ("APPL"), so Apple stays NULL as it did on Databricks.
    names = {(row.symbol, row.name) for row in silver.select("symbol", "name").distinct().collect()}
    assert names == {("AAPL", None), ("AMZN", "Amazon"), ("GOOGL", "Google"), ("MSFT", "Microsoft")}
    gold = read_table(spark, state, "gld_stock_performances", STOCK_DATABASE)
    assert sorted(gold.columns) == ["gain_max", "gain_mean", "gain_min", "gain_total", "symbol"]
    rows = {row.symbol: row for row in gold.collect()}
    assert sorted(rows) == ["AAPL", "AMZN", "GOOGL", "MSFT"]
    for row in rows.values():
        assert row.gain_min <= row.gain_mean <= row.gain_max
