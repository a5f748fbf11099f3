"""Table settings in `laktory-pulumi validate`: the notices (a `pii` column published unmasked,
a masked column's quarantine), each at its line, and the rules' edges the invalid corpus
(tests/data/invalid/settings_*.yaml, checked by test_loader_errors.py) does not show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from test_loader_errors import project_with

from laktory_pulumi.cli import main
from laktory_pulumi.models import Pipeline
from laktory_pulumi.models.base import RuleViolation
from laktory_pulumi.models.table_settings import databricks_only_notice

PII = """\
name: pl-people
catalog: dev
target: crm
libraries:
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: slv_people
    builder:
      layer: SILVER
      table_source: {name: dev.raw.people}
    columns:
      - {name: id, sql_expression: data.id}
      - {name: email, sql_expression: data.email, pii: true}
      - name: ssn
        sql_expression: data.ssn
        pii: true
        mask: {function: dev.gov.ssn_mask}
  - name: slv_people_keys
    private: true
    builder:
      layer: SILVER
      table_source: {name: dev.raw.people}
    columns:
      - {name: email, sql_expression: data.email, pii: true}
"""


def test_a_pii_column_published_unmasked_gets_a_located_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(tmp_path, "pl-people.yaml", PII)
    assert main(["validate", "--project", str(project), "--stack", "dev"]) == 0
    out = capsys.readouterr().out.splitlines()
    # Only email of the published table: ssn is masked, the private table is not published.
    assert out[0].startswith(
        "notice: stacks/pipelines/pl-people.yaml:13:56: tables[0].columns[1].pii: column "
        "'email' holds personal data and slv_people is published unmasked"
    )
    assert out[1:] == ["ok: 1 pipeline, 2 tables"]


def test_a_masked_column_of_a_quarantined_table_gets_a_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PII.replace(
        "  - name: slv_people_keys",
        "    quarantine: true\n"
        "    expectations: [{name: has_id, expression: id IS NOT NULL, action: DROP}]\n"
        "  - name: slv_people_keys",
    )
    project = project_with(tmp_path, "pl-people.yaml", text)
    assert main(["validate", "--project", str(project), "--stack", "dev"]) == 0
    notices = [line for line in capsys.readouterr().out.splitlines() if "quarantine" in line]
    assert notices == [
        "notice: stacks/pipelines/pl-people.yaml:18:17: tables[0].quarantine: "
        "slv_people_quarantine holds the rows slv_people drops with their values as read, "
        "unmasked (ssn): grant it to fewer readers"
    ]


def test_the_local_run_notice_names_only_what_databricks_alone_applies() -> None:
    pipeline = Pipeline.model_validate(yaml.safe_load(PII))
    assert databricks_only_notice(pipeline) == (
        "not applied by this local run, only on Databricks: slv_people (mask)"
    )
    plain = Pipeline.model_validate(
        {**yaml.safe_load(PII), "tables": [yaml.safe_load(PII)["tables"][1]]}
    )
    assert databricks_only_notice(plain) is None


def test_cluster_by_auto_alongside_cluster_by_is_allowed_and_yaml_values_become_text() -> None:
    data = yaml.safe_load(PII)
    table = data["tables"][0]
    table.update(
        cluster_by=["id"],
        cluster_by_auto=True,
        table_properties={"pipelines.reset.allowed": False, "delta.logRetentionDuration": 30},
    )
    built = Pipeline.model_validate(data).tables[0]
    assert built.table_properties == {
        "pipelines.reset.allowed": "false",
        "delta.logRetentionDuration": "30",
    }


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"Comment": "x"}, "'Comment' is a reserved table property; Databricks refuses it (the "),
        ({"option.path": "x"}, "'option.path' is a reserved table property"),
        ({"pipelines.reset.alowed": "false"}, "(did you mean 'pipelines.reset.allowed'?)"),
        ({"pipelines.autoOptimize.managed": "yes"}, "is true or false, not 'yes'"),
    ],
)
def test_reserved_misspelt_or_non_boolean_properties_are_refused(
    properties: dict[str, str], message: str
) -> None:
    data = yaml.safe_load(PII)
    data["tables"][0]["table_properties"] = properties
    with pytest.raises(RuleViolation) as raised:
        Pipeline.model_validate(data)
    assert message in str(raised.value)


def test_an_unknown_pipelines_property_far_from_any_known_one_is_left_to_dlt() -> None:
    data = yaml.safe_load(PII)
    data["tables"][0]["table_properties"] = {"pipelines.something.new": "1"}
    Pipeline.model_validate(data)


def test_pipeline_tag_values_are_text() -> None:
    data = {**yaml.safe_load(PII), "tags": {"cost_center": 42, "billable": True}}
    assert Pipeline.model_validate(data).tags == {"cost_center": "42", "billable": "true"}


BRONZE_CLUSTERED = """\
name: pl-clustered
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
tables:
  - name: brz_orders
    cluster_by: [order_day]
    partition_cols: []
    builder:
      layer: BRONZE
      table_source:
        name: shop.raw.orders
        schema_ddl: 'id INT, order_date DATE, amount DOUBLE'
"""


@pytest.mark.spark
def test_the_deep_check_finds_a_clustering_column_the_analysed_table_lacks(spark: Any) -> None:
    """A bronze table keeps its source's columns, which only the analysis knows: the load
    cannot say whether `order_day` exists, the deep check can."""
    from laktory_pulumi.analysis.deep import analyse_pipeline

    pipeline = Pipeline.model_validate(yaml.safe_load(BRONZE_CLUSTERED))
    (finding,) = analyse_pipeline(pipeline, spark)
    assert finding.path == ("tables", 0, "cluster_by", 0)
    assert finding.message == (
        "'order_day' is not a column of brz_orders (did you mean 'order_date'?)"
    )
    fixed = yaml.safe_load(BRONZE_CLUSTERED.replace("[order_day]", "[order_date]"))
    assert analyse_pipeline(Pipeline.model_validate(fixed), spark) == []


def test_a_mask_on_a_cdc_table_is_refused_at_the_mask() -> None:
    """apply_changes writes columns of its own (SCD 2's __START_AT and __END_AT), which a schema
    built from the declared columns would lack."""
    data = yaml.safe_load(PII)
    data["edition"] = "PRO"
    data["tables"][0]["builder"]["table_source"]["cdc"] = {
        "primary_keys": ["id"],
        "sequence_by": "id",
        "scd_type": 2,
    }
    with pytest.raises(RuleViolation) as raised:
        Pipeline.model_validate(data)
    (problem,) = raised.value.problems
    assert problem[0] == ("tables", 0, "columns", 2, "mask")
    assert "no selects, drop_columns, joins, aggregation, transform, sql or cdc" in problem[1]
