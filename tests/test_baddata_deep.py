"""`validate --deep`: every table's plan analysed by Spark, each error at its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_local_support import (
    REPO,
    STOCK_EVENTS,
    land,
    land_stock_metadata,
    make_project,
    stock_lines,
)

from laktory_pulumi.cli import main

PIPELINE = """\
name: pl-deep
target: deep
libraries:
  - notebook: {{path: /pipelines/dlt_brz_template.py}}
  - notebook: {{path: /pipelines/dlt_slv_template.py}}
  - notebook: {{path: /pipelines/dlt_gld_template.py}}
tables:
  - name: brz_prices
    builder:
      layer: BRONZE
      event_source: {{name: stock_price, producer: {{name: yahoo-finance}}{bronze_extra}}}
  - name: slv_prices
    builder:
      layer: SILVER
{silver_builder}
      table_source:
        name: brz_prices
{silver_source}
    columns:
      - name: created_at
        type: timestamp
        spark_func_name: coalesce
        spark_func_args: [data._created_at]
      - name: symbol
        type: string
        spark_func_name: {symbol_function}
        spark_func_args: [{symbol_args}]
      - name: close
        type: double
        sql_expression: data.close
    expectations:
      - name: known_symbol
        expression: {expectation}
        action: DROP
  - name: gld_prices
    builder:
      layer: GOLD
      table_source:
        name: slv_prices
        read_as_stream: {gold_stream}
      aggregation:
        groupby_columns: [symbol]
        aggregates:
          - name: close
            spark_func_name: max
            spark_func_args: [{gold_argument}]
"""
GOOD = {
    "silver_builder": "",
    "gold_argument": "close",
    "bronze_extra": "",
    "silver_source": "",
    "symbol_function": "coalesce",
    "symbol_args": "data.symbol",
    "expectation": "symbol IS NOT NULL",
    "gold_stream": "false",
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled stock events, a few of them, as sample files."""
    root = tmp_path_factory.mktemp("landing")
    land(root, STOCK_EVENTS, "sample.json", stock_lines()[:20])
    land_stock_metadata(root)
    return root


def _validate(
    tmp_path: Path, landing: Path | None, *, deep: bool = True, **changes: str
) -> tuple[int, str, str]:
    """`validate [--deep]` of pl-deep with `changes`; (exit code, YAML text, stderr)."""
    text = PIPELINE.format(**{**GOOD, **changes})
    project = make_project(tmp_path / "project", text, "pl-deep")
    argv = ["validate", "--project", str(project), "--stack", "dev"]
    if deep:
        argv += ["--deep", *(["--landing", str(landing)] if landing else [])]
    return main(argv), text, ""


def _line_of(text: str, needle: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text[:start].count("\n") + text[start:].split(needle, 1)[0].count("\n") + 1


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("stacks/")]


def test_unknown_function_fails_validation_without_spark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, _ = _validate(tmp_path, None, deep=False, symbol_function="coalsce")
    assert code == 2
    (error,) = _errors(capsys)
    line = _line_of(text, "spark_func_name: coalsce")
    assert error.startswith(f"stacks/pipelines/pl-deep.yaml:{line}:")
    assert "tables[1].columns[1].spark_func_name" in error
    assert "'coalsce' is neither a function of pyspark.sql.functions nor one of the" in error
    assert "close names: coalesce" in error


def test_a_multi_column_sequence_by_naming_a_missing_column_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # DLT-META's comma list is accepted (tests/test_harden_sequence.py); a column it names that
    # the change feed lacks is refused at the sequence_by line.
    cdc = "        cdc: {primary_keys: [symbol], sequence_by: 'created_at, seq'}"
    code, text, _ = _validate(tmp_path, None, deep=False, silver_source=cdc)
    assert code == 2
    (error,) = _errors(capsys)
    assert error.startswith(f"stacks/pipelines/pl-deep.yaml:{_line_of(text, 'cdc:')}:")
    assert "sequence column 'seq' is not a column of the table's change feed" in error


@pytest.mark.spark
def test_the_bundled_stock_pipeline_passes_the_deep_check(
    spark: object, landing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["validate", "--deep", "--project", str(REPO), "--stack", "dev"]
    assert main([*argv, "--landing", str(landing)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


@pytest.mark.spark
@pytest.mark.parametrize(
    ("changes", "needle", "after", "field", "says"),
    [
        (
            {"symbol_args": "data.sym, data.symbol"},
            "spark_func_args: [data.sym",
            "",
            "tables[1].columns[1].spark_func_args",
            "column 'symbol' reads 'data.sym'",
        ),
        (
            {"expectation": "symbl IS NOT NULL"},
            "expression: symbl",
            "",
            "tables[1].expectations[0].expression",
            "expectation known_symbol",
        ),
        (
            {"silver_source": "        watermark: {column: created_at, threshold: 1 hour}"},
            "created_at, threshold",
            "",
            "tables[1].builder.table_source.watermark.column",
            "watermark column 'created_at' is a column this table declares",
        ),
        (
            {"silver_builder": "      filter: symbl = 'AAPL'"},
            "filter: symbl",
            "",
            "tables[1].builder.filter",
            "`symbl` cannot be resolved",
        ),
        (
            {"gold_argument": "clse"},
            "[clse]",
            "",
            "tables[2].builder.aggregation.aggregates[0].spark_func_args",
            "`clse` cannot be resolved",
        ),
    ],
    ids=[
        "missing-input-in-coalesce",
        "expectation",
        "watermark-declared",
        "filter",
        "aggregate",
    ],
)
def test_each_error_is_located_at_the_field_at_fault(
    spark: object,
    tmp_path: Path,
    landing: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict[str, str],
    needle: str,
    after: str,
    field: str,
    says: str,
) -> None:
    code, text, _ = _validate(tmp_path, landing, **changes)
    errors = _errors(capsys)
    assert code == 2, errors
    (error,) = errors
    assert error.startswith(f"stacks/pipelines/pl-deep.yaml:{_line_of(text, needle, after)}:")
    assert f": {field}: " in error
    assert says in error
    assert "\n" not in error and "Traceback" not in error


@pytest.mark.spark
def test_a_streamed_aggregation_without_watermark_validates_and_is_noted(
    spark: object, tmp_path: Path, landing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DLT rewrites such a table in full at each update (complete output mode: Databricks
    docs, "Optimize stateful processing in Delta Live Tables with watermarks"); it runs, and
    the deep analysis reads the source whole as the local run does."""
    code, text, _ = _validate(tmp_path, landing, gold_stream="true")
    out, err = capsys.readouterr()
    assert (code, err) == (0, ""), err
    (notice,) = [line for line in out.splitlines() if "aggregates a stream" in line]
    line = _line_of(text, "groupby_columns")  # the mapping, at its first key
    assert notice.startswith(f"notice: stacks/pipelines/pl-deep.yaml:{line}:")
    assert "tables[2].builder.aggregation: table " in notice
    assert "rewrites the whole table at each update (complete output mode)" in notice


@pytest.mark.spark
def test_without_landing_an_event_source_needs_sample_files(
    spark: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, _ = _validate(tmp_path, None)
    assert code == 2
    (error,) = _errors(capsys)
    assert error.startswith(f"stacks/pipelines/pl-deep.yaml:{_line_of(text, 'event_source:')}:")
    assert "give --landing with sample event files" in error


@pytest.mark.spark
def test_a_declared_schema_needs_no_sample_files(
    spark: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ddl = ", schema_ddl: 'data STRUCT<_created_at: STRING, symbol: STRING, close: DOUBLE>'"
    code, _, _ = _validate(tmp_path, None, bronze_extra=ddl)
    assert code == 0, _errors(capsys)


@pytest.mark.spark
def test_run_refuses_at_the_line_before_starting_and_writes_nothing(
    spark: object, tmp_path: Path, landing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.format(**{**GOOD, "symbol_args": "data.sym, data.symbol"})
    project = make_project(tmp_path / "project", text, "pl-deep")
    state = tmp_path / "state"
    argv = ["run", "pl-deep", "--project", str(project), "--landing", str(landing)]
    assert main([*argv, "--state", str(state)]) == 2
    (error,) = _errors(capsys)
    line = _line_of(text, "spark_func_args: [data.sym")
    assert error.startswith(f"stacks/pipelines/pl-deep.yaml:{line}:")
    assert "column 'symbol' reads 'data.sym'" in error
    assert not state.exists()
