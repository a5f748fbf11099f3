"""`validate --deep` on tables that read a catalog table (issue #12).

The source declares the catalog table's columns (`table_source.schema_ddl`) and the table is
analysed on them; without them the deep check says, for that table and the tables reading it,
that it was not analysed and why: a notice, not a failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from test_local_support import make_project

from laktory_pulumi.cli import main
from laktory_pulumi.loader import LoadError, load_pipeline_file
from laktory_pulumi.models import Pipeline

PIPELINE = """\
name: pl-catalog
libraries:
  - notebook: {{path: /pipelines/dlt_slv_template.py}}
  - notebook: {{path: /pipelines/dlt_gld_template.py}}
tables:
  - name: slv_customers
    builder:
      layer: SILVER
      table_source:
        name: crm.raw.customers
{declared}
    columns:
      - {{name: id, type: int, sql_expression: id}}
      - {{name: name, type: string, sql_expression: {name_expression}}}
  - name: gld_customers
    builder:
      layer: GOLD
      table_source: {{name: slv_customers, read_as_stream: false}}
      aggregation:
        groupby_columns: [name]
        aggregates:
          - {{name: customers, spark_func_name: count, spark_func_args: [id]}}
"""
DECLARED = "        schema_ddl: 'id INT, name STRING, ts TIMESTAMP'"


def _pipeline(declared: str = DECLARED, name_expression: str = "upper(name)") -> Pipeline:
    text = PIPELINE.format(declared=declared, name_expression=name_expression)
    return Pipeline.model_validate(yaml.safe_load(text))


def test_schema_ddl_is_for_catalog_tables_only(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        PIPELINE.format(declared=DECLARED, name_expression="name").replace(
            "table_source: {name: slv_customers, read_as_stream: false}",
            "table_source: {name: slv_customers, read_as_stream: false, schema_ddl: 'id INT'}",
        )
    )
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, {})
    (error,) = caught.value.errors
    assert error.field == "tables[1].builder.table_source.schema_ddl"
    assert "a table of this pipeline" in error.message


@pytest.mark.spark
def test_a_declared_catalog_table_is_analysed(spark: Any) -> None:
    from laktory_pulumi.analysis.deep import analyse_pipeline

    assert analyse_pipeline(_pipeline(), spark) == []
    # The declared columns are what the analysis knows: a typo is found at its column.
    (finding,) = analyse_pipeline(_pipeline(name_expression="upper(nme)"), spark)
    assert finding.path == ("tables", 0, "columns", 1, "sql_expression")
    assert not finding.notice
    (bad,) = analyse_pipeline(_pipeline(declared="        schema_ddl: 'id INTEGRAL'"), spark)
    assert bad.path == ("tables", 0, "builder", "table_source", "schema_ddl")


@pytest.mark.spark
def test_an_undeclared_catalog_table_is_a_notice_not_silence(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from laktory_pulumi.analysis.deep import analyse_pipeline

    first, second = analyse_pipeline(_pipeline(declared=""), spark)
    assert first.notice and second.notice
    assert first.path == ("tables", 0, "builder", "table_source")
    assert "slv_customers was not analysed: it reads the catalog table crm.raw.customers" in (
        first.message
    )
    assert "gld_customers was not analysed: it reads slv_customers" in second.message

    text = PIPELINE.format(declared="", name_expression="upper(name)")
    project = make_project(tmp_path / "project", text, "pl-catalog")
    assert main(["validate", "--deep", "--project", str(project), "--stack", "dev"]) == 0
    out = capsys.readouterr().out.splitlines()
    line = text.splitlines().index("      table_source:") + 1
    assert out[0].startswith(
        f"notice: stacks/pipelines/pl-catalog.yaml:{line + 1}:9: tables[0].builder.table_source: "
    )
    assert out[1].startswith("notice: stacks/pipelines/pl-catalog.yaml:")
    assert out[-1].startswith("ok: ")


JOINED = """\
name: pl-joined
tables:
  - name: slv_orders
    builder:
      layer: SILVER
      table_source: {name: shop.raw.orders, schema_ddl: 'id INT, customer_id INT'}
      joins:
        - other: {name: crm.raw.customers, read_as_stream: false{declared}}
          on: [customer_id]
    columns:
      - {name: id, type: int, sql_expression: id}
      - {name: customer_name, type: string, sql_expression: {customer}}
"""


@pytest.mark.spark
def test_a_joined_catalog_table_is_analysed_on_its_declared_columns(spark: Any) -> None:
    from laktory_pulumi.analysis.deep import analyse_pipeline

    def pipeline(declared: str, customer: str = "name") -> Pipeline:
        text = JOINED.replace("{declared}", declared).replace("{customer}", customer)
        return Pipeline.model_validate(yaml.safe_load(text))

    declared = ", schema_ddl: 'customer_id INT, name STRING'"
    assert analyse_pipeline(pipeline(declared), spark) == []
    (typo,) = analyse_pipeline(pipeline(declared, customer="nmae"), spark)
    assert typo.path == ("tables", 0, "columns", 1, "sql_expression") and not typo.notice
    (notice,) = analyse_pipeline(pipeline(""), spark)
    assert notice.notice
    assert notice.path == ("tables", 0, "builder", "joins", 0, "other")
    assert "reads the catalog table crm.raw.customers" in notice.message
