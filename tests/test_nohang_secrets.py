"""A secret reaches a table's code only as a reference Spark resolves at run time (issue #23).

A table's definition is written as it is into the pipeline's metadata file, which the deploy
uploads as a workspace file every reader of the folder can open. So a secret substituted into
an expression (a filter, a SQL expression, an expectation, a join condition, a function's
arguments) is refused at its line, and `${conf.KEY}` is the way: the secret goes into the
pipeline's configuration (concealed in Pulumi's state, `[secret]` in the metadata file, left out
of a local run's files) and Spark substitutes it when it parses the expression. An encrypted
stack value that cannot be decrypted fails a run at its line, never becomes the text
`[secret]`. The run itself, with the value read through the filter, is in
tests/test_harden_secret_logs.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from laktory_pulumi.deploy.secrets import SecretValues
from laktory_pulumi.loader import LoadError, load_pipeline_file
from laktory_pulumi.loader.variables import needing_secret_values
from laktory_pulumi.metadata import metadata_bytes

SECRET = "cust-7Hq-secret"
ENV = "LAKTORY_NOHANG_SECRET"

TEXT = """\
name: p
configuration:
  customer: ${{env.{env}}}
libraries:
  - notebook: {{path: /pipelines/dlt_brz_template.py}}
  - notebook: {{path: /pipelines/dlt_slv_template.py}}
tables:
  - name: brz
    builder:
      layer: BRONZE
      event_source: {{name: e}}
  - name: slv
    builder:
      layer: SILVER
      table_source: {{name: brz, filter: "{source_filter}"}}
      filter: "{filter}"
      joins:
        - other: {{name: brz, read_as_stream: false}}
          on_expression: "{on_expression}"
    columns:
      - {{name: c, type: string, sql_expression: "{sql_expression}"}}
      - {{name: d, type: string, spark_func_name: coalesce, spark_func_args: ["{argument}"]}}
    expectations:
      - {{name: e, expression: "{expectation}"}}
"""
PLAIN = {
    "source_filter": "true",
    "filter": "true",
    "on_expression": "left.id = other.id",
    "sql_expression": "'x'",
    "argument": "a",
    "expectation": "true",
}
FIELDS = {
    "source_filter": "tables[1].builder.table_source.filter",
    "filter": "tables[1].builder.filter",
    "on_expression": "tables[1].builder.joins[0].on_expression",
    "sql_expression": "tables[1].columns[0].sql_expression",
    "argument": "tables[1].columns[1].spark_func_args[0]",
    "expectation": "tables[1].expectations[0].expression",
}


@pytest.fixture(autouse=True)
def _secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, SECRET)


def _load(tmp_path: Path, variables: dict[str, object] | None = None, **fields: str):
    path = tmp_path / "p.yaml"
    text = TEXT.format(env=ENV, **{**PLAIN, **fields})
    path.write_text(text)
    return load_pipeline_file(path, variables or {}), text


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_a_secret_in_an_expression_is_refused_at_its_line(tmp_path: Path, field: str) -> None:
    value = f"x = '${{env.{ENV}}}'"
    with pytest.raises(LoadError) as caught:
        _load(tmp_path, **{field: value})
    (error,) = caught.value.errors
    text = TEXT.format(env=ENV, **{**PLAIN, field: value})
    line = text.split(value, 1)[0].count("\n") + 1
    assert (Path(error.file).name, error.line) == ("p.yaml", line)
    assert error.field == FIELDS[field]
    assert "write ${conf.KEY} here" in error.message
    assert SECRET not in str(error)


def test_an_undecrypted_secure_value_in_a_filter_is_refused_even_by_validate(
    tmp_path: Path,
) -> None:
    with pytest.raises(LoadError) as caught:
        _load(tmp_path, {"token": {"secure": "v1:AAAA"}}, filter="c != '${vars.token}'")
    (error,) = caught.value.errors
    assert error.field == "tables[1].builder.filter" and "[secret]" not in str(error)


def test_a_run_refuses_an_undecrypted_secure_value_where_validate_shows_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nconfiguration:\n  token: ${vars.token}\n")
    variables = {"token": {"secure": "v1:AAAA"}}
    assert load_pipeline_file(path, variables).configuration["token"] == "[secret]"
    with needing_secret_values(), pytest.raises(LoadError) as caught:
        load_pipeline_file(path, variables)
    (error,) = caught.value.errors
    assert (error.line, error.column, error.field) == (3, 10, "configuration.token")
    assert error.message.startswith("variable ${vars.token} is encrypted in the stack file")
    assert "only the Pulumi engine decrypts it" in error.message


def test_conf_references_become_spark_references_and_the_metadata_holds_no_secret(
    tmp_path: Path,
) -> None:
    fields = {field: "c != '${conf.customer}'" for field in ("filter", "expectation")}
    fields["on_expression"] = "left.id = other.id AND other.c != '${conf.customer}'"
    pipeline, _ = _load(tmp_path, **fields)
    silver = pipeline.table("slv")
    assert silver.builder.filter == "c != '${customer}'"
    assert silver.expectations[0].expression == "c != '${customer}'"
    assert silver.builder.joins[0].on_expression.endswith("other.c != '${customer}'")
    # The deployed file: the configuration value is redacted, the tables hold references.
    deployed = SecretValues.of_fields([SECRET]).redact_configuration(metadata_bytes(pipeline))
    assert SECRET.encode() not in deployed
    assert b"${customer}" in deployed


def test_a_conf_reference_names_a_key_of_the_configuration(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as caught:
        _load(tmp_path, filter="c != '${conf.custmer}'")
    (error,) = caught.value.errors
    assert error.field == "tables[1].builder.filter"
    assert "'custmer' is not one of its keys (did you mean 'customer'?)" in error.message
