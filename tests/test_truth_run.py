"""Run-time fixes of issue #18, in one local run: what validated used to fail on the engine.

- A source with a declared schema and no folder yet (a fresh deploy's empty landing) runs and
  writes an empty table ("What breaks today" 7).
- A UDF module using `@F.udf` works: its module is imported when the table is defined, not in
  the query function, where SDP refused the session conf read `@F.udf` makes
  (ATTEMPT_ANALYSIS_IN_PIPELINE_QUERY_FUNCTION).
- A `sql:` table ending with a `-- comment` runs (the wrapper's parenthesis was commented out).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from test_local_support import REPO, land, make_project, read_table, rows_of, run, run_state

pytestmark = [pytest.mark.slow, pytest.mark.spark]

PIPELINE = """\
name: pl-truth-run
target: truth
udfs:
  - {module_name: order_udfs, function_name: label}
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz_orders
    builder:
      layer: BRONZE
      event_source: {name: orders, producer: {name: shop}, schema_ddl: "id INT, amount DOUBLE"}
  - name: brz_refunds
    builder:
      layer: BRONZE
      event_source: {name: refunds, producer: {name: shop}, schema_ddl: "id INT, amount DOUBLE"}
  - name: slv_orders
    builder: {layer: SILVER, table_source: {name: brz_orders}}
    columns:
      - {name: id, type: int, sql_expression: id}
      - {name: size, type: string, spark_func_name: label, spark_func_args: [amount]}
  - name: slv_large
    builder: {layer: SILVER}
    sql: "SELECT id, amount FROM brz_orders WHERE amount > 10 -- the large ones"
"""

UDFS = """\
from pyspark.sql import functions as F


@F.udf("string")
def label(amount):
    return "large" if amount is not None and amount > 10 else "small"
"""


def test_a_declared_source_without_files_a_python_udf_and_a_commented_query_run(
    spark: SparkSession, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project", PIPELINE, "pl-truth-run")
    notebooks = project / "notebooks"
    notebooks.unlink()  # a folder of its own, to hold the UDF module
    shutil.copytree(REPO / "notebooks", notebooks)
    (notebooks / "order_udfs.py").write_text(UDFS)
    landing, state = tmp_path / "landing", tmp_path / "state"
    orders = [json.dumps({"id": i, "amount": a}) for i, a in [(1, 5.0), (2, 25.0), (3, 40.0)]]
    land(landing, Path("events") / "shop" / "orders", "1.json", orders)
    # Nothing has landed for refunds: not even its folder exists.
    assert run(project, "pl-truth-run", landing, state) == 0

    report = run_state(state)
    assert report.status == "COMPLETED"
    assert report.tables["brz_refunds"].rows_total == 0  # an empty table, no parquet part yet
    labelled = read_table(spark, state, "slv_orders", "truth")
    assert rows_of(labelled, ["id", "size"]) == [(1, "small"), (2, "large"), (3, "large")]
    large = read_table(spark, state, "slv_large", "truth")
    assert rows_of(large, ["id", "amount"]) == [(2, 25.0), (3, 40.0)]
