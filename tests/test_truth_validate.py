"""What validated and then failed at run time now fails validation at its own line (issue #18,
"What breaks today" 5 and 6; issue #24 case 2), and what it notes about a fresh deploy (7).

Each case is a small project checked by `laktory-pulumi validate`; the refusals of a single
pipeline file are also in tests/data/invalid (EXPECTED.yaml). SQL cases parse their query on
Spark's parser (a JVM), hence their `spark` mark.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_local_support import make_project

from laktory_pulumi.cli import EXIT_INVALID, main

REPO = Path(__file__).resolve().parent.parent

BRONZE = """\
name: pl-truth
target: truth
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz_orders
    builder:
      layer: BRONZE
      event_source:
        name: orders
        producer: {name: shop}
        schema_ddl: "id INT, amount DOUBLE"
"""


def validate(project: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(["validate", "--project", str(project), "--stack", "dev"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out.splitlines(), err


def only_error(project: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(line, field, message) of the one located line `validate` prints (exit 2)."""
    code, _out, err = validate(project, capsys)
    assert code == EXIT_INVALID, err
    (line,) = err.splitlines()
    file, number, _column, field, message = line.split(":", 4)
    assert file == "stacks/pipelines/pl-truth.yaml"
    return int(number), field.strip(), message.strip()


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def project_with(tmp_path: Path, tables: str, modules: dict[str, str] | None = None) -> Path:
    project = make_project(tmp_path / "project", BRONZE + tables, "pl-truth")
    for name, text in (modules or {}).items():
        (project / "notebooks" / name).write_text(text)
    return project


def test_validate_notes_every_source_that_infers_its_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The example pipeline hints the columns it reads (`schema_hints`: later fields still
    # become columns), so its first update runs on an empty landing: no notice.
    code, out, _ = validate(REPO, capsys)
    assert code == 0
    assert not [line for line in out if "infers its events' schema" in line]
    hinted = BRONZE.replace(
        'schema_ddl: "id INT, amount DOUBLE"', 'schema_hints: "id INT, amount DOUBLE"'
    )
    assert hinted != BRONZE
    project = make_project(tmp_path / "hinted", hinted, "pl-truth")
    code, out, err = validate(project, capsys)
    assert (code, err) == (0, "") and not [line for line in out if "infers" in line]
    text = BRONZE.replace('        schema_ddl: "id INT, amount DOUBLE"\n', "")
    project = make_project(tmp_path / "project", text, "pl-truth")
    code, out, err = validate(project, capsys)
    assert (code, err) == (0, "")
    assert out[0].startswith("ok: ")
    line = line_of(text, "event_source:")
    assert out[1].startswith(
        f"notice: stacks/pipelines/pl-truth.yaml:{line + 1}:9: tables[0].builder.event_source: "
        "table brz_orders infers its events' schema"
    )
    assert "CF_EMPTY_DIR_FOR_SCHEMA_INFERENCE" in out[1]


def test_a_module_named_like_the_standard_library_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = """\
  - name: slv_orders
    builder: {layer: SILVER, table_source: {name: brz_orders}}
    transform: {module_name: copy, function_name: with_copies}
    columns:
      - {name: id, type: int, sql_expression: id}
"""
    project = project_with(tmp_path, tables, {"copy.py": "def with_copies(df):\n    return df\n"})
    line, field, message = only_error(project, capsys)
    assert (line, field) == (
        line_of(BRONZE + tables, "module_name: copy"),
        "tables[1].transform.module_name",
    )
    assert "named like 'copy', a module of Python's standard library" in message


def test_a_udf_module_importing_an_undeployed_sibling_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = """\
  - name: slv_orders
    builder: {layer: SILVER, table_source: {name: brz_orders}}
    columns:
      - {name: amount, type: double, spark_func_name: doubled, spark_func_args: [amount]}
"""
    text = BRONZE.replace(
        "tables:\n", "udfs:\n  - {module_name: order_udfs, function_name: doubled}\ntables:\n"
    )
    project = make_project(tmp_path / "project", text + tables, "pl-truth")
    (project / "notebooks" / "order_udfs.py").write_text(
        "from helpers import factor\n\n\ndef doubled(column):\n    return column * factor()\n"
    )
    (project / "notebooks" / "helpers.py").write_text("def factor():\n    return 2\n")
    line, field, message = only_error(project, capsys)
    assert (line, field) == (line_of(text, "module_name: order_udfs"), "udfs[0].module_name")
    assert "imports 'helpers' (notebooks/helpers.py), which is not deployed" in message
    # Declared as a module of the pipeline, the sibling is deployed and the import works.
    declared = text.replace("udfs:\n", "udfs:\n  - {module_name: helpers, function_name: factor}\n")
    (project / "stacks" / "pipelines" / "pl-truth.yaml").write_text(declared + tables)
    assert validate(project, capsys)[0] == 0


@pytest.mark.spark  # Spark's SQL parser runs on a JVM
def test_sql_tables_that_would_fail_on_databricks_are_refused_at_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pyspark")
    tables = """\
  - name: slv_big
    builder: {layer: SILVER}
    sql: "SELECT id, amount FROM brz_orders WHERE amount > 10 -- the large ones"
"""
    # A query ending with a comment is fine (the local wrapper puts its parenthesis after it).
    project = project_with(tmp_path, tables)
    assert validate(project, capsys)[0] == 0

    qualified = tables.replace("FROM brz_orders", "FROM truth.brz_orders")
    project = project_with(tmp_path / "q", qualified)
    line, field, message = only_error(project, capsys)
    assert (line, field) == (line_of(BRONZE + qualified, "sql:"), "tables[1].sql")
    assert "names truth.brz_orders, a table of this pipeline, by its catalog name" in message

    dropping = tables.replace(
        '"SELECT id, amount FROM brz_orders WHERE amount > 10 -- the large ones"',
        '"DROP TABLE brz_orders"',
    )
    project = project_with(tmp_path / "d", dropping)
    line, field, message = only_error(project, capsys)
    assert (line, field) == (line_of(BRONZE + dropping, "sql:"), "tables[1].sql")
    assert "is a statement (DropTable), not a query" in message


@pytest.mark.spark  # Spark's SQL parser runs on a JVM
def test_a_stream_of_a_sql_table_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue #24 case 2: a stream of a `sql:` table (a materialized view, recomputed at each
    # update) read its rows again on the second run (5 rows for 3 orders). DLT streams only
    # append-only sources; the stream is refused, and a whole read validates.
    tables = """\
  - name: slv_orders
    builder: {layer: SILVER}
    sql: "SELECT id, amount FROM brz_orders"
  - name: slv_orders_star
    builder:
      layer: SILVER
      table_source: {name: slv_orders, read_as_stream: true}
    columns:
      - {name: id, type: int, sql_expression: id}
"""
    project = project_with(tmp_path, tables)
    line, field, message = only_error(project, capsys)
    assert (line, field) == (
        line_of(BRONZE + tables, "name: slv_orders, read_as_stream: true"),
        "tables[2].builder.table_source.read_as_stream",
    )
    assert (
        "streams slv_orders, which is not append-only (a sql table is a materialized view"
        in message
    )
    whole = tables.replace("read_as_stream: true", "read_as_stream: false")
    assert validate(project_with(tmp_path / "w", whole), capsys)[0] == 0


def test_a_number_given_as_a_column_fails_plain_validate_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/laktory.md: `{value: X}` with a non-text X given to a column parameter fails
    validation (before, only `--deep` found it, when Spark defined the table)."""
    tables = """\
  - name: slv_orders
    builder: {layer: SILVER, table_source: {name: brz_orders}}
    columns:
      - {name: id, type: int, sql_expression: id}
      - {name: amount, type: double, spark_func_name: coalesce, spark_func_args: [amount, {value: 0.5}]}
"""
    project = project_with(tmp_path, tables)
    line, field, message = only_error(project, capsys)
    text = (project / "stacks" / "pipelines" / "pl-truth.yaml").read_text()
    assert (line, field) == (line_of(text, "{value: 0.5}"), "tables[1].columns[1].spark_func_args")
    assert message.startswith("{value: 0.5} is given to coalesce's column parameter 'cols'")
    assert "{lit: 0.5}" in message
    # A text value is Laktory's SQL expression there, and a value where no column is taken
    # (date_format's format) is passed as is: both validate.
    fine = tables.replace("{value: 0.5}", "{value: '0.5'}") + (
        "      - {name: day, type: string, spark_func_name: date_format, "
        "spark_func_args: [amount, {value: 'yyyy'}]}\n"
    )
    code, _out, err = validate(project_with(tmp_path / "fine", fine), capsys)
    assert (code, err) == (0, "")
