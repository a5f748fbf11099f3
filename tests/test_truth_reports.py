"""Run reports count what happened, and a run's failure names the line at fault (issue #18).

Unit tests of `RunReport` with the events the driver sends; the pipeline runs that produce
them are covered by the local-run modules.
"""

from __future__ import annotations

from pathlib import Path

from laktory_pulumi.loader import load_stack
from laktory_pulumi.local.events import Event
from laktory_pulumi.local.report import RunReport
from laktory_pulumi.local.runner import table_locator

REPO = Path(__file__).resolve().parent.parent


def _counts(table: str, total: int) -> Event:
    return Event("table_counts", table=table, metrics={"rows_before": 0, "rows_total": total})


def test_a_table_named_like_a_quarantine_is_not_counted_as_one(tmp_path: Path) -> None:
    # `orders_quarantine` is a table of its own (orders has no `quarantine: true`); only
    # `slv`'s declared quarantine table counts as quarantined rows.
    report = RunReport(
        pipeline="pl",
        log_file=tmp_path / "x.log",
        say=lambda _: None,
        quarantines={"slv": "slv_quarantine"},
    )
    for table, total in [
        ("orders", 10),
        ("orders_quarantine", 3),
        ("slv", 8),
        ("slv_quarantine", 2),
    ]:
        report.handle(_counts(table, total))
    report.handle(Event("update_ended", state="COMPLETED"))
    state = report.state("COMPLETED")
    assert state.tables["orders"].quarantined == 0
    assert state.tables["slv"].quarantined == 2
    summary = report.summary(state)
    orders = next(line for line in summary if line.split()[0] == "orders")
    assert orders.split()[3] == "0"  # the quarantined column


def test_a_failure_while_the_graph_is_defined_names_its_tables_line(tmp_path: Path) -> None:
    # What the driver sends when an event folder has no files and no schema_ddl: no flow ran,
    # so the event names no table; the message does.
    stack = load_stack(REPO, "dev", only=["pl-stock-prices"])
    pipeline = stack.pipelines["pl-stock-prices"]
    locate = table_locator(pipeline, stack.files[pipeline.name], REPO)
    report = RunReport(pipeline=pipeline.name, log_file=tmp_path / "x.log", say=lambda _: None)
    error = (
        "table brz_stock_metadata: no JSON files at /l/events/yahoo-finance/stock_metadata/ to "
        "infer the event schema from; land files there first, or declare event_source.schema_ddl"
    )
    report.handle(Event("update_ended", state="FAILED", error=error))
    report.locate_failure(locate)
    state = report.state("FAILED")
    assert state.failure is not None and state.failure.table == "brz_stock_metadata"
    file, line, _column, field = state.failure.location.split(":")
    lines = (REPO / file).read_text().splitlines()
    assert "name: brz_stock_metadata" in lines[int(line) - 1]
    assert field.strip() == "tables[1]"
    (line,) = state.failure.lines(pipeline.name)
    assert line.startswith(f"{state.failure.location}: table brz_stock_metadata: no JSON files at ")


def test_the_graph_shows_quarantined_rows_only_for_quarantined_tables() -> None:
    from laktory_pulumi.graph.model import run_lines
    from laktory_pulumi.local.run_state import TableRun

    # A run state from before the fix counted `orders_quarantine` as orders' quarantine.
    stale = TableRun(rows_written=10, rows_total=10, quarantined=3)
    assert run_lines(stale) == ["rows: 10"]
    assert run_lines(stale, quarantine=True) == ["rows: 10", "quarantined: 3"]


def test_an_unresolvable_flow_is_named_with_its_cause() -> None:
    # SDP ends a run whose catalog source cannot resolve locally with "Failed to resolve flows
    # in the pipeline" (no table); the flow's own event names it (message of pyspark 4.3's
    # spark-pipelines: "Failed to resolve flow: '<flow>'"), and the run reports that table.
    from laktory_pulumi.local.sdp_driver import _unresolved_flow

    message = (
        "Failed to resolve flow: 'spark_catalog.crm.slv_customers'.\n"
        "Error: [TABLE_OR_VIEW_NOT_FOUND] The table or view `crm`.`raw`.`customers` cannot be "
        "found."
    )
    table, error = _unresolved_flow(message) or ("", "")
    assert table == "slv_customers"
    assert error.startswith("does not resolve: [TABLE_OR_VIEW_NOT_FOUND]")
    assert "`crm`.`raw`.`customers`" in error
    assert _unresolved_flow("Failed to resolve flow due to upstream failure: 'x'") is None
    assert _unresolved_flow("Flow 'spark_catalog.crm.x' is RUNNING.") is None
