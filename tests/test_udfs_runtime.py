"""UDFs, transforms and several sources into one table, in the eager debug mode and on SDP.

The same project serves both: two event folders appended into one bronze table, and a silver
table whose column calls a UDF of the project and whose rows go through its transform. The
modules are laid out and imported where the deploy puts them (next to the notebooks).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from laktory_pulumi.loader import load_stack
from laktory_pulumi.local.workspace import lay_out_workspace

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parent.parent
NAME = "pl-udfs-runtime"
SOURCES = """\
        - name: quote
          producer: {name: venue_a}
          schema_ddl: "symbol STRING, high DOUBLE, low DOUBLE"
        - name: quote
          producer: {name: venue_b}
          schema_ddl: "symbol STRING, high DOUBLE, low DOUBLE"
"""
THIRD_SOURCE = """\
        - name: quote
          producer: {name: venue_c}
          schema_ddl: "symbol STRING, high DOUBLE, low DOUBLE"
"""
PIPELINE = """\
name: pl-udfs-runtime
target: quotes
udfs:
  - {module_name: udfs_quote_functions, function_name: spread}
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz_quotes
    builder:
      layer: BRONZE
      event_sources:
@SOURCES@
  - name: slv_quotes
    builder:
      layer: SILVER
      table_source: {name: brz_quotes}
    transform: {module_name: udfs_quote_transforms, function_name: with_band}
    expectations:
      - {name: positive_spread, expression: "spread > 0", action: DROP}
    columns:
      - {name: symbol, type: string, spark_func_name: upper, spark_func_args: [symbol]}
      - {name: spread, type: double, spark_func_name: spread, spark_func_args: [high, low]}
  # A SQL table; silver so that the silver template builds it (the gold template is another
  # slice's work).
  - name: slv_bands
    builder: {layer: SILVER}
    sql: "SELECT band, count(*) AS quotes FROM slv_quotes GROUP BY band"
"""
FUNCTIONS = """\
from pyspark.sql import functions as F


def spread(high, low):
    \"\"\"A UDF as Laktory calls them: Spark Columns in, a Column out.\"\"\"
    return F.round(high - low, 3)
"""
TRANSFORMS = """\
from pyspark.sql import functions as F


def with_band(df):
    \"\"\"DataFrame in, DataFrame out: a column the YAML does not declare.\"\"\"
    return df.withColumn("band", F.when(F.col("spread") >= 1, "wide").otherwise("narrow"))
"""


def pipeline_yaml(third_source: bool = False) -> str:
    sources = SOURCES + (THIRD_SOURCE if third_source else "")
    return PIPELINE.replace("@SOURCES@\n", sources)


def make_project(root: Path, pipeline: str) -> Path:
    """A project whose notebooks/ holds the repository's templates and this test's modules."""
    (root / "stacks" / "pipelines").mkdir(parents=True, exist_ok=True)
    for file in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copyfile(REPO / file, root / file)
    notebooks = root / "notebooks"
    notebooks.mkdir(exist_ok=True)
    for template in ("dlt_brz_template.py", "dlt_slv_template.py"):
        shutil.copyfile(REPO / "notebooks" / template, notebooks / template)
    (notebooks / "udfs_quote_functions.py").write_text(FUNCTIONS)
    (notebooks / "udfs_quote_transforms.py").write_text(TRANSFORMS)
    (root / "stacks" / "pipelines" / f"{NAME}.yaml").write_text(pipeline)
    return root


def land(landing: Path, producer: str, name: str, rows: list[tuple[str, float, float]]) -> None:
    folder = landing / "events" / producer / "quote"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"symbol": s, "high": h, "low": low}) for s, h, low in rows]
    partial = folder / f".{name}.partial"
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(folder / name)


A_ROWS = [("aapl", 10.0, 9.0), ("msft", 5.0, 4.5)]
B_ROWS = [("amzn", 7.0, 7.0), ("googl", 3.0, 1.5)]  # amzn: spread 0, dropped by DROP rule
C_ROWS = [("nflx", 2.0, 1.25)]
EXPECTED_AB = [("AAPL", 1.0, "wide"), ("GOOGL", 1.5, "wide"), ("MSFT", 0.5, "narrow")]


@pytest.fixture
def eager_backend() -> Iterator[None]:
    from laktory_pulumi.runtime import dlt

    dlt.use_backend("eager")
    try:
        yield
    finally:
        dlt.use_backend(None)


def test_udf_transform_and_sources_in_the_eager_debug_mode(
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    eager_backend: None,
) -> None:
    from laktory_pulumi.runtime import dlt
    from laktory_pulumi.runtime.dlt_eager import as_batch
    from laktory_pulumi.runtime.tables import define_table

    project = make_project(tmp_path / "project", pipeline_yaml())
    pipeline = load_stack(project, "dev").pipelines[NAME]
    workspace = tmp_path / "workspace"
    lay_out_workspace(workspace, pipeline, project / "notebooks", "/.laktory/")
    landing = tmp_path / "landing"
    land(landing, "venue_a", "1.json", A_ROWS)
    land(landing, "venue_b", "1.json", B_ROWS)
    monkeypatch.setenv("LAKTORY_WORKSPACE_ROOT", str(workspace))
    monkeypatch.setenv("LAKTORY_LANDING_ROOT", str(landing))
    monkeypatch.delenv("LAKTORY_ROOT", raising=False)
    dlt.spark = spark

    bronze = define_table(pipeline.table("brz_quotes"), spark)
    silver = define_table(pipeline.table("slv_quotes"), spark)

    brz = as_batch(dlt.get_df(bronze), "udfs_brz")
    assert sorted(r.symbol for r in brz.collect()) == ["aapl", "amzn", "googl", "msft"]
    slv = as_batch(dlt.get_df(silver), "udfs_slv")
    rows = sorted((r.symbol, r.spread, r.band) for r in slv.collect())
    assert rows == EXPECTED_AB
    gold = define_table(pipeline.table("slv_bands"), spark)
    assert sorted((r.band, r.quotes) for r in dlt.get_df(gold).collect()) == [
        ("narrow", 1),
        ("wide", 2),
    ]


@pytest.mark.slow
def test_udf_transform_and_append_flows_in_local_runs(spark: SparkSession, tmp_path: Path) -> None:
    """Two event folders into one table; a third source added later processes only its rows."""
    from test_local_support import read_table, rows_of, run

    project = make_project(tmp_path / "project", pipeline_yaml())
    landing, state = tmp_path / "landing", tmp_path / "state"
    land(landing, "venue_a", "1.json", A_ROWS)
    land(landing, "venue_b", "1.json", B_ROWS)
    land(landing, "venue_c", "1.json", C_ROWS)  # landed, but not a source yet

    assert run(project, NAME, landing, state) == 0
    silver = read_table(spark, state, "slv_quotes", "quotes")
    assert rows_of(silver, ["symbol", "spread", "band"]) == EXPECTED_AB
    gold = read_table(spark, state, "slv_bands", "quotes")
    assert rows_of(gold, ["band", "quotes"]) == [("narrow", 1), ("wide", 2)]

    # The third source is added; venue_a lands one more file. Each flow keeps its checkpoint:
    # a and b read only what is new to them, c (a new flow) reads all of its own files.
    (project / "stacks" / "pipelines" / f"{NAME}.yaml").write_text(pipeline_yaml(True))
    land(landing, "venue_a", "2.json", [("orcl", 4.0, 2.0)])
    assert run(project, NAME, landing, state) == 0

    bronze = read_table(spark, state, "brz_quotes", "quotes")
    assert rows_of(bronze, ["symbol"]) == [
        ("aapl",), ("amzn",), ("googl",), ("msft",), ("nflx",), ("orcl",)
    ]  # fmt: skip
    silver = read_table(spark, state, "slv_quotes", "quotes")
    assert rows_of(silver, ["symbol", "spread", "band"]) == sorted(
        [*EXPECTED_AB, ("NFLX", 0.75, "narrow"), ("ORCL", 2.0, "wide")]
    )
    # The SQL table saw this run's silver rows, not the previous run's.
    gold = read_table(spark, state, "slv_bands", "quotes")
    assert rows_of(gold, ["band", "quotes"]) == [("narrow", 2), ("wide", 3)]
