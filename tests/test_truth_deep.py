"""`validate --deep` finds, each at its own line and on one line, what used to pass it and fail
at run time (issue #18, "What breaks today" 3, 4 and 6): a WARN expectation on a missing column,
a table left with only system columns (`{value: 0.5}` given to a column parameter fails plain
validate now: tests/test_truth_validate.py). One deep
analysis of one pipeline holds every case; a `sql:` table ending with a `-- comment` is in it
too, and passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_local_support import make_project

from laktory_pulumi.cli import EXIT_INVALID, main

pytestmark = pytest.mark.spark

PIPELINE = """\
name: pl-deep-truth
target: truth
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
  - notebook: {path: /pipelines/dlt_gld_template.py}
tables:
  - name: brz_orders
    builder:
      layer: BRONZE
      event_source: {name: orders, producer: {name: shop}, schema_ddl: "id INT, amount DOUBLE"}
    expectations:
      - {name: known, expression: "customer IS NOT NULL", action: WARN}
  - name: slv_value
    builder: {layer: SILVER, table_source: {name: brz_orders}}
    columns:
      - {name: amount, type: double, spark_func_name: coalesce, spark_func_args: [amount, {lit: 0.5}]}
  - name: slv_nothing
    builder: {layer: SILVER, table_source: {name: brz_orders}}
  - name: slv_changes
    builder:
      layer: SILVER
      table_source: {name: brz_orders, cdc: {primary_keys: [id], sequence_by: amount}}
    columns:
      - {name: id, type: int, sql_expression: id}
      - {name: amount, type: double, sql_expression: amount}
    expectations:
      - {name: positive, expression: "price > 0", action: WARN}
  - name: slv_large
    builder: {layer: SILVER}
    sql: "SELECT id, amount FROM brz_orders WHERE amount > 10 -- the large ones"
  - name: gld_totals
    builder:
      layer: GOLD
      table_source: {name: slv_large, read_as_stream: false}
      aggregation:
        groupby_columns: [id]
        aggregates: [{name: total, sql_expression: sum(amount)}]
"""


def line_of(fragment: str) -> int:
    return next(n for n, line in enumerate(PIPELINE.splitlines(), 1) if fragment in line)


def test_each_finding_is_one_line_at_its_field(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "project", PIPELINE, "pl-deep-truth")
    # An earlier `--debug` call of the same process must not leak into this one (CI ran
    # test_validate_cli's --debug case first in the same worker and got the JVM's stacks).
    main(["--debug", "validate", "--project", str(project), "--stack", "dev"])
    capfd.readouterr()
    code = main(["validate", "--deep", "--project", str(project), "--stack", "dev"])
    out, err = capfd.readouterr()
    assert code == EXIT_INVALID, out + err
    # No stack: pyspark logs each analysis error with the JVM's stack unless --debug.
    assert "SQLQueryContextLogger" not in err and "\tat org.apache" not in err
    found = {}
    for line in err.splitlines():
        file, number, _column, field, message = line.split(":", 4)
        assert file == "stacks/pipelines/pl-deep-truth.yaml", line
        found[field.strip()] = (int(number), message.strip())
    assert set(found) == {
        "tables[0].expectations[0].expression",
        "tables[2].builder.layer",
        "tables[3].expectations[0].expression",
    }, err
    # A WARN rule filters nothing, so Spark never analysed it with the table.
    line, message = found["tables[0].expectations[0].expression"]
    assert line == line_of("name: known")
    assert message.startswith("table brz_orders: expectation known: [UNRESOLVED_COLUMN")
    line, message = found["tables[3].expectations[0].expression"]  # a CDC table's feed
    assert line == line_of("name: positive")
    assert "expectation positive: [UNRESOLVED_COLUMN" in message
    # A silver table drops its source's columns by default: declaring none leaves it nothing.
    line, message = found["tables[2].builder.layer"]
    assert line == line_of("name: slv_nothing") + 1
    assert message.startswith("table slv_nothing drops its source's columns (the SILVER default)")
    assert "it would write only _bronze_at, _source_file, _silver_at" in message
