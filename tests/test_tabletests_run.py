"""`laktory-pulumi test` and AGGREGATE expectations on the real local engine.

One warm engine serves the whole module: its state folder lives outside pytest's temporary
folders (whose engines `conftest.py` stops after every Spark test) and the module fixture stops
it at the end. The tests and the local runs of this module share it, as a user's would.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_local_support import (
    REPO,
    STOCK_EVENTS,
    bronze_silver_yaml,
    land,
    make_project,
    stock_lines,
)

from laktory_pulumi.cli import main
from laktory_pulumi.local.engine import read_record, stop_engine
from laktory_pulumi.local.layout import StateLayout

pytestmark = [pytest.mark.slow, pytest.mark.spark]

STOCK_FILE = Path("stacks") / "pipelines" / "pl-stock-prices.yaml"


@pytest.fixture(scope="module")
def state() -> Iterator[Path]:
    """The module's state folder: one warm engine for every test here, stopped at the end."""
    folder = Path(tempfile.mkdtemp(prefix="laktory-tabletests-"))
    try:
        yield folder / "state"
    finally:
        stop_engine(StateLayout.at(folder / "state"))
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def stock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding the stock pipeline file, tests included, as the repository has it."""
    return _stock_project(tmp_path_factory.mktemp("stock"), (REPO / STOCK_FILE).read_text())


def _stock_project(root: Path, text: str) -> Path:
    """A project with this stock pipeline file and the rows files its tests read."""
    project = make_project(root, text, "pl-stock-prices")
    shutil.copytree(REPO / "stacks" / "tests", project / "stacks" / "tests")
    return project


def _invoke(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _test(project: Path, state: Path, *extra: str) -> tuple[int, str, str]:
    return _invoke("test", "--project", str(project), "--state", str(state), *extra)


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_the_stock_tests_pass_and_the_junit_report_lists_them(
    stock: Path, state: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "reports" / "tests.xml"
    code, out, err = _test(stock, state, "--junit", str(junit))
    assert code == 0, out + err
    assert "6 tests: 6 passed, 0 failed, 0 could not run" in out
    for name in (
        "latest_metadata_row_wins",
        "silver_star_joins_metadata",
        "daily_gold_aggregation",
        "quarantined_bad_price",
    ):
        assert f"PASS {name} " in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "pl-stock-prices"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "0", "0")
    text = (stock / STOCK_FILE).read_text()
    first = suite.findall("testcase")[0]
    assert first.get("file") == str(STOCK_FILE)
    assert first.get("line") == str(_line_of(text, "- name: latest_metadata_row_wins"))
    # Nothing of the tests reaches the catalog: the engine's warehouse holds no table.
    warehouse = state / "warehouse"
    assert not warehouse.exists() or not any(warehouse.rglob("*.parquet"))


BROKEN = """\
  - name: broken_conditions
    table: slv_stock_prices
    given:
      - table: brz_stock_prices
        rows:
          - data: {symbol: MSFT, _created_at: "2024-04-10T13:30:00Z", open: 420.0, close: 421.0, high: 422.0, low: 419.5, volume: 1}
          - data: {symbol: MSFT, _created_at: "2024-04-10T14:30:00Z", open: -1.0, close: 421.0, high: 422.0, low: 419.5, volume: 1}
    expect:
      row_count: 3
      unique: symbol
      conditions: [open > 0]
  - name: unknown_column
    table: slv_stock_prices
    given:
      - table: brz_stock_prices
        rows: [{data: {symbol: MSFT, _created_at: "2024-04-10T13:30:00Z", open: 1.0, close: 1.0, high: 1.0, low: 1.0, volume: 1}}]
    expect:
      rows: [{symbol: MSFT, price: 1.0}]
"""


def test_a_wrong_expected_row_fails_with_a_diff_at_the_test_line_and_passes_once_fixed(
    stock: Path, state: Path, tmp_path: Path
) -> None:
    """Also: `--select` by test name and by table, what failed conditions report, JUnit."""
    text = (stock / STOCK_FILE).read_text() + BROKEN
    project = _stock_project(tmp_path / "p", text)
    file = project / STOCK_FILE
    right = '- {symbol: AAPL, currency: USD, updated_at: "2024-05-25 06:00:00"}'
    file.write_text(text.replace(right, right.replace("USD", "EUR")))
    junit = tmp_path / "selected.xml"
    code, out, _ = _test(
        project,
        state,
        *("--select", "latest_metadata_row_wins", "--select", "slv_stock_prices"),
        *("--junit", str(junit)),
    )
    assert code == 1
    line = _line_of(text, "- name: latest_metadata_row_wins")
    assert f"FAIL latest_metadata_row_wins (slv_stock_metadata) at {STOCK_FILE}:{line}:11" in out
    assert "  rows differ on symbol, currency, updated_at (- expected, + found):" in out
    assert "    - {symbol: AAPL, currency: EUR, updated_at: 2024-05-25 06:00:00}" in out
    assert "    + {symbol: AAPL, currency: USD, updated_at: 2024-05-25 06:00:00}" in out
    # The tests of slv_stock_prices, and no other.
    assert "PASS bad_price_leaves_silver " in out and "PASS duplicate_prices_kept_once " in out
    assert "quarantined_bad_price" not in out and "daily_gold_aggregation" not in out
    line = _line_of(text, "- name: broken_conditions")
    assert f"FAIL broken_conditions (slv_stock_prices) at {STOCK_FILE}:{line}:11" in out
    assert "  row_count: expected 3, found 2" in out
    assert "  unique symbol: 1 rows repeat a key, e.g.:" in out
    assert "    {symbol: MSFT} (2 rows)" in out
    assert "  condition `open > 0` fails on 1 of 2 rows, e.g.:" in out
    assert "  price: not a column of slv_stock_prices (its columns: created_at, symbol," in out
    assert "5 tests: 2 passed, 3 failed, 0 could not run" in out
    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert [case.get("name") for case in cases] == [
        "latest_metadata_row_wins",
        "bad_price_leaves_silver",
        "duplicate_prices_kept_once",
        "broken_conditions",
        "unknown_column",
    ]
    assert cases[0].find("failure") is not None and cases[1].find("failure") is None

    file.write_text(text)
    code, out, _ = _test(project, state, "--select", "latest_metadata_row_wins")
    assert code == 0 and "1 test: 1 passed, 0 failed" in out


AGGREGATE_PIPELINE = bronze_silver_yaml(
    "pl-agg",
    "aggregates",
    '{name: enough_rows, type: AGGREGATE, expression: "count(*) > 50", action: WARN}',
)


def test_aggregate_expectations_warn_in_the_summary_and_fail_a_run_at_their_line(
    state: Path, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "p", AGGREGATE_PIPELINE, "pl-agg")
    landing = tmp_path / "landing"
    land(landing, STOCK_EVENTS, "five.json", stock_lines()[:5])

    def run_agg() -> tuple[int, str]:
        code, out, err = _invoke(
            "run",
            "pl-agg",
            "--project",
            str(project),
            "--landing",
            str(landing),
            "--state",
            str(state),
        )
        return code, out + err

    code, out = run_agg()
    assert code == 0, out
    assert "slv_prices_aggregate_checks" in out
    assert "    expectation enough_rows (WARN): 0 passed, 1 warned" in out
    assert read_record(StateLayout.at(state)) is not None  # the module's engine served it

    file = project / "stacks" / "pipelines" / "pl-agg.yaml"
    failing = AGGREGATE_PIPELINE.replace("action: WARN}", "action: FAIL}")
    file.write_text(failing)
    code, out = run_agg()
    assert code == 1, out
    line = _line_of(failing, "- {name: enough_rows")
    assert (
        "aggregate expectation enough_rows (count(*) > 50) failed on table slv_prices "
        f"(declared at stacks/pipelines/pl-agg.yaml:{line}:9)" in out
    ), out
    assert json.loads((state / "runs" / "latest.json").read_text())["status"] == "FAILED"

    # A rule that is no aggregate fails the run's pre-flight analysis, at its line.
    file.write_text(AGGREGATE_PIPELINE.replace('"count(*) > 50"', '"symbol IS NOT NULL"'))
    code, out = run_agg()
    assert code == 2, out
    assert f"stacks/pipelines/pl-agg.yaml:{line}:" in out
    assert "tables[1].expectations[0].expression: table slv_prices: expectation enough_rows:" in out
    assert "GROUP BY" in out  # Spark's own reason: a row condition in an aggregate
