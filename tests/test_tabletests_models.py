"""Table tests and AGGREGATE expectations without Spark: what validates, what fails at its line,
the row diff, the JUnit report, and what the Databricks notebooks define for aggregates."""

from __future__ import annotations

import contextlib
import inspect
import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from test_local_support import REPO, make_project

from laktory_pulumi.cli import main
from laktory_pulumi.metadata import metadata_bytes
from laktory_pulumi.models import Pipeline
from laktory_pulumi.models.table_test import ExpectedRows, GivenRows, TableTest, tables_between
from laktory_pulumi.runtime.expectations import rules_of
from laktory_pulumi.testing.compare import diff_rows
from laktory_pulumi.testing.execute import Outcome
from laktory_pulumi.testing.junit import junit_xml

STOCK_YAML = (REPO / "stacks" / "pipelines" / "pl-stock-prices.yaml").read_text()


def _stock_with_tests(tests: str) -> str:
    """The stock pipeline file with its tests replaced by `tests` (YAML under `tests:`)."""
    return STOCK_YAML[: STOCK_YAML.index("\ntests:\n")] + "\ntests:\n" + tests


def _invoke(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


NOT_UPSTREAM = """\
  - name: gold_from_metadata_bronze
    table: slv_stock_prices
    given:
      - table: brz_stock_metadata
        rows: [{data: {symbol: AAPL}}]
    expect: {row_count: 1}
"""


def test_a_test_whose_input_is_not_upstream_fails_at_its_line(tmp_path: Path) -> None:
    text = _stock_with_tests(NOT_UPSTREAM)
    project = make_project(tmp_path, text, "pl-stock-prices")
    code, out, err = _invoke("test", "--project", str(project), "--state", str(tmp_path / "s"))
    assert code == 2, (out, err)
    line = _line_of(text, "- table: brz_stock_metadata\n        rows")
    assert (
        f"stacks/pipelines/pl-stock-prices.yaml:{line}:16: tests[0].given[0].table: "
        "brz_stock_metadata is not upstream of slv_stock_prices" in err
    )
    assert len(err.strip().splitlines()) == 2  # and slv_stock_prices' event source is not given
    assert not (tmp_path / "s").exists()  # nothing started, nothing written
    # `validate` says the same: a test is part of the pipeline's file.
    code, _, err = _invoke("validate", "--project", str(project))
    assert code == 2 and "tests[0].given[0].table" in err


@pytest.mark.parametrize(
    ("tests", "path", "message"),
    [
        (
            "  - {name: t, table: slv_stock_price, given: [{table: brz_stock_prices, rows: []}],"
            " expect: {row_count: 0}}\n",
            "tests[0].table",
            "no table 'slv_stock_price' in this pipeline (did you mean 'slv_stock_prices'?)",
        ),
        (
            "  - {name: t, table: slv_stock_prices, given: [{event_source: stock_metadata,"
            " rows: []}], expect: {row_count: 0}}\n",
            "tests[0].given[0].event_source",
            "event source stock_metadata is not read: no table on the way to slv_stock_prices",
        ),
        (
            "  - {name: t, table: slv_star_stock_prices, given: [{table: slv_stock_prices,"
            " rows: []}], expect: {row_count: 0}}\n",
            "tests[0].given",
            "brz_stock_metadata reads the event source yahoo-finance/stock_metadata: give its rows",
        ),
        (
            "  - {name: t, table: slv_stock_prices, given: [{table: slv_stock_prices, rows: []}],"
            " expect: {row_count: 0}}\n",
            "tests[0].given[0].table",
            "slv_stock_prices is the table under test; give rows for its inputs",
        ),
        (
            "  - {name: t, table: slv_stock_prices, given: [{table: brz_stock_prices,"
            " event_source: stock_price, rows: []}], expect: {row_count: 0}}\n",
            "tests[0].given[0].event_source",
            "exactly one of table or event_source is required",
        ),
        (
            "  - {name: t, table: slv_stock_prices, given: [{table: brz_stock_prices,"
            " rows: []}], expect: {}}\n",
            "tests[0].expect",
            "a test expects something",
        ),
        (
            "  - {name: t, table: slv_stock_prices, given: [{table: brz_stock_prices, rows: []}],"
            " expect: {row_count: 0}}\n"
            "  - {name: t, table: slv_stock_prices, given: [{table: brz_stock_prices, rows: []}],"
            " expect: {row_count: 0}}\n",
            "tests[1].name",
            "test 't' is declared twice (first at tests[0])",
        ),
        (
            "  - {name: t, table: gld_stock_performances, given: [{table: slv_star_stock_prices,"
            " rows: []}, {table: slv_stock_prices, rows: []}], expect: {row_count: 0}}\n",
            "tests[0].given[1].table",
            "slv_stock_prices is not read: the other inputs given stand for every table",
        ),
        (
            "  - {name: t, table: slv_star_stock_prices, given: [{table: slv_stock_prices,"
            " rows: [{symbl: A}]}, {table: slv_stock_metadata, rows: []}],"
            " expect: {row_count: 0}}\n",
            "tests[0].given[0].rows",
            "symbl: not a column of slv_stock_prices (its columns: created_at, symbol, open,",
        ),
    ],
)
def test_invalid_tests_fail_validation_at_their_line(
    tmp_path: Path, tests: str, path: str, message: str
) -> None:
    project = make_project(tmp_path, _stock_with_tests(tests), "pl-stock-prices")
    code, _, err = _invoke("test", "--project", str(project), "--state", str(tmp_path / "s"))
    assert code == 2
    located = [line for line in err.splitlines() if f": {path}: " in line]
    assert located and message in located[0], err
    assert located[0].startswith("stacks/pipelines/pl-stock-prices.yaml:")


def test_a_missing_rows_file_fails_at_its_line(tmp_path: Path) -> None:
    tests = (
        "  - name: from_file\n"
        "    table: slv_stock_prices\n"
        "    given:\n"
        "      - {table: brz_stock_prices, file: tests/data/nowhere.jsonl}\n"
        "    expect: {row_count: 0}\n"
    )
    text = _stock_with_tests(tests)
    project = make_project(tmp_path, text, "pl-stock-prices")
    code, _, err = _invoke("test", "--project", str(project), "--state", str(tmp_path / "s"))
    assert code == 2
    line = _line_of(text, "- {table: brz_stock_prices, file:")
    assert (
        f"stacks/pipelines/pl-stock-prices.yaml:{line}:41: tests[0].given[0].file: no file "
        "tests/data/nowhere.jsonl in the project" in err
    )


def test_select_naming_nothing_is_a_usage_error(tmp_path: Path) -> None:
    project = make_project(tmp_path, STOCK_YAML, "pl-stock-prices")
    code, out, _ = _invoke(
        "test", "--project", str(project), "--state", str(tmp_path / "s"), "--select", "nope"
    )
    assert code == 2 and "no test or table named nope" in out


def test_the_stock_tests_build_only_the_tables_between_inputs_and_target() -> None:
    from laktory_pulumi.loader import load_stack

    pipeline = load_stack(REPO, "dev").pipelines["pl-stock-prices"]
    built = {test.name: [t.name for t in tables_between(pipeline, test)] for test in pipeline.tests}
    assert built["latest_metadata_row_wins"] == ["slv_stock_metadata"]
    assert built["silver_star_joins_metadata"] == ["slv_star_stock_prices"]
    assert built["daily_gold_aggregation"] == ["slv_star_stock_prices", "gld_stock_performances"]
    # Given as bronze rows (a landed text price is rescued in bronze: the source hints it).
    assert built["quarantined_bad_price"] == ["slv_stock_prices"]
    # Tests are not deployed: the metadata file leaves them out, and reads back equal.
    assert b'"tests"' not in metadata_bytes(pipeline)
    assert Pipeline.model_validate_json(metadata_bytes(pipeline)) == pipeline


def test_row_diffs_compare_multisets_or_in_order_with_a_float_tolerance() -> None:
    columns = ["symbol", "close"]
    same = diff_rows(
        columns,
        [("A", 0.05), ("B", 1.0)],
        [("B", 1.0), ("A", 1.05 / 1.0 - 1)],
        ordered=False,
        tolerance=1e-9,
    )
    assert same.empty
    # A duplicated row is not matched twice.
    diff = diff_rows(columns, [("A", 1.0), ("A", 1.0)], [("A", 1.0)], ordered=False, tolerance=0)
    assert diff.lines() == [
        "rows differ on symbol, close (- expected, + found):",
        "  - {symbol: A, close: 1.0}",
    ]
    ordered = diff_rows(
        columns, [("A", 1.0), ("B", 2.0)], [("B", 2.0), ("A", 1.0)], ordered=True, tolerance=0
    )
    assert ordered.lines()[1:4] == [
        "  row 1:",
        "  - {symbol: A, close: 1.0}",
        "  + {symbol: B, close: 2.0}",
    ]
    assert diff_rows(["x"], [(1.0,)], [(1.1,)], ordered=False, tolerance=0.2).empty
    assert not diff_rows(["x"], [(1.0,)], [(1.1,)], ordered=False, tolerance=0.01).empty


def test_the_junit_report_has_a_suite_per_pipeline_and_the_failure_lines() -> None:
    test = TableTest(
        name="t1",
        table="slv",
        given=[GivenRows(table="brz", rows=[])],
        expect=ExpectedRows(row_count=1),
    )
    outcomes = [
        Outcome(test, "pl-a", "stacks/pipelines/a.yaml:12:5", "passed", 0.25),
        Outcome(
            test.model_copy(update={"name": "t2"}),
            "pl-a",
            "stacks/pipelines/a.yaml:20:5",
            "failed",
            0.5,
            ["row_count: expected 1, found 0"],
        ),
        Outcome(
            test, "pl-b", "stacks/pipelines/b.yaml:3:5", "error", 0.1, ["AnalysisException: x"]
        ),
    ]
    root = ET.fromstring(junit_xml(outcomes))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["pl-a", "pl-b"]
    failed = suites[0].findall("testcase")[1]
    assert failed.get("file") == "stacks/pipelines/a.yaml" and failed.get("line") == "20"
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("message") == "stacks/pipelines/a.yaml:20:5: row_count: expected 1, found 0"
    assert suites[1].find("testcase/error") is not None


AGGREGATES = """\
    expectations:
      - {name: known_symbol, expression: symbol IS NOT NULL, action: DROP}
      - {name: enough_rows, type: AGGREGATE, expression: count(*) > 50, action: WARN}
      - {name: prices_make_sense, type: aggregate, expression: avg(close) > 0, action: FAIL}
"""


def _aggregate_yaml(expectations: str = AGGREGATES) -> str:
    return f"""\
name: pl-agg
libraries: [{{notebook: {{path: /pipelines/dlt_slv_template.py}}}}]
tables:
  - name: prices
    builder: {{layer: SILVER}}
    columns:
      - {{name: symbol, type: string}}
      - {{name: close, type: double}}
    data: [[A, 1.0]]
{expectations}"""


def _pipeline_with_aggregates(expectations: str = AGGREGATES) -> Pipeline:
    import yaml

    return Pipeline.model_validate(yaml.safe_load(_aggregate_yaml(expectations)))


def test_aggregate_rules_are_not_row_rules_and_get_their_own_view() -> None:
    table = _pipeline_with_aggregates().tables[0]
    assert [rule.name for rule in rules_of(table)] == ["known_symbol"]
    assert ("prices_aggregate_checks", ("expectations",), "aggregate expectations view") in (
        table.generated_datasets
    )


def test_an_aggregate_rule_that_drops_fails_at_its_line(tmp_path: Path) -> None:
    bad = "      - {name: enough_rows, type: AGGREGATE, expression: count(*) > 1, action: DROP}\n"
    text = _aggregate_yaml("    expectations:\n" + bad)
    project = make_project(tmp_path, text, "pl-agg")
    code, _, err = _invoke("validate", "--project", str(project))
    assert code == 2
    assert err.startswith(f"stacks/pipelines/pl-agg.yaml:{_line_of(text, '- {name: enough_rows')}:")
    assert "tables[0].expectations[0].action: an AGGREGATE expectation holds on the whole" in err


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_on_databricks_aggregates_are_a_private_view_with_expectations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Databricks' documented pattern: a materialized view computing the aggregate, with an
    expectation on its row (docs.databricks.com, "Expectation recommendations and advanced
    patterns"), unpublished with `temporary=True` (a parameter of `dlt.table` in databricks-dlt,
    Databricks' stub of the module: bound below to its signature)."""
    databricks_dlt = pytest.importorskip("dlt", reason="databricks-dlt is in the dev extra")
    from laktory_pulumi.runtime import dlt as shim
    from laktory_pulumi.runtime.expectations import define_aggregate_checks

    monkeypatch.setenv(shim.BACKEND_ENV, "databricks")
    shim.use_backend(None)
    calls: list[tuple[str, dict[str, Any]]] = []

    def recording(name: str) -> Any:
        real = getattr(databricks_dlt, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, dict(inspect.signature(real).bind(*args, **kwargs).arguments)))
            return lambda function: function

        return call

    for name in ("table", "expect_all", "expect_all_or_fail"):
        monkeypatch.setattr(databricks_dlt, name, recording(name))
    try:
        define_aggregate_checks(_pipeline_with_aggregates().tables[0])
    finally:
        shim.use_backend(None)
    assert calls == [
        ("expect_all_or_fail", {"expectations": {"prices_make_sense": "`prices_make_sense`"}}),
        ("expect_all", {"expectations": {"enough_rows": "`enough_rows`"}}),
        (
            "table",
            {
                "query_function": None,  # the shim's decorator form
                "name": "prices_aggregate_checks",
                "comment": "AGGREGATE expectations of prices, checked at each update.",
                "temporary": True,
            },
        ),
    ]


def test_pull_requests_run_the_table_tests_of_changed_pipelines_beside_the_plan() -> None:
    import yaml

    jobs = yaml.safe_load((REPO / ".github" / "workflows" / "preview.yml").read_text())["jobs"]
    steps = jobs["table-tests"]["steps"]
    script = next(step["run"] for step in steps if step.get("id") == "tests")
    assert "laktory-pulumi test --stack dev" in script and "--junit table-tests.xml" in script
    assert "stacks/pipelines/" in script  # the changed pipelines only
    (comment,) = [s for s in steps if "sticky-pull-request-comment" in s.get("uses", "")]
    assert comment["with"]["header"] == "laktory-table-tests"  # its own comment, beside the plan
    assert any("setup-java" in step.get("uses", "") for step in steps)  # Spark needs Java 17


def test_a_stack_without_tests_passes_with_an_empty_report(tmp_path: Path) -> None:
    text = STOCK_YAML[: STOCK_YAML.index("\ntests:\n")] + "\n"
    project = make_project(tmp_path, text, "pl-stock-prices")
    junit = tmp_path / "empty.xml"
    code, out, _ = _invoke(
        "test", "--project", str(project), "--state", str(tmp_path / "s"), "--junit", str(junit)
    )
    assert code == 0 and out.startswith("no tests:")
    assert ET.parse(junit).getroot().get("tests") == "0"
    assert not (tmp_path / "s").exists()  # no engine started for nothing
