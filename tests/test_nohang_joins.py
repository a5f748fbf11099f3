"""Joins write well-formed tables (issue #23): one column per name, one rule for system columns.

The rule (docs/joins.md, `runtime/joins.py`): a joined row keeps the left side's system columns
(`_bronze_at`, `_rescued_data`, `_source_file`, ...) and drops the other side's. Two columns of
one name are refused: a `selects` mapping renaming two columns to one name at validation, a
collision only Spark can see (a rename onto a left column) by `validate --deep` at the join.

The whole-pipeline test joins two bronze tables stream-stream over three runs, with a payment
landing a run after its order and one payment landed twice: each matched row exactly once. The
same payments also go through an inner stream-static join on a declared `long` key, one of
them malformed: the run goes on and that row is kept with its raw key rescued.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_local_support import land, make_project, read_table, run, run_state

from laktory_pulumi.cli import main

PIPELINE = "pl-paid"
ORDERS = Path("events") / "shop" / "orders"
PAYMENTS = Path("events") / "shop" / "payments"

TEXT = """\
name: pl-paid
target: paid
libraries:
  - notebook: {{path: /pipelines/dlt_brz_template.py}}
  - notebook: {{path: /pipelines/dlt_slv_template.py}}
  - notebook: {{path: /pipelines/dlt_slv_star_template.py}}
tables:
  - name: brz_orders
    builder:
      layer: BRONZE
      event_source: {{name: orders, producer: {{name: shop}}}}
  - name: brz_payments
    builder:
      layer: BRONZE
      event_source: {{name: payments, producer: {{name: shop}}}}
  - name: slv_star_paid
    builder:
      layer: SILVER_STAR
      table_source:
        name: brz_orders
        watermark: {{column: _bronze_at, threshold: 1 day}}
      joins:
        - other:
            name: brz_payments
            watermark: {{column: _bronze_at, threshold: 1 day}}{other_selects}
          on: [order_id]
          how: inner
          time_constraint_interval_lower: 1 day
{more}"""

SILVER_PAIR = """\
  - name: slv_orders
    builder:
      layer: SILVER
      table_source: {name: brz_orders}
    columns:
      - {name: order_id, type: string, sql_expression: order_id}
      - {name: amount, type: double, sql_expression: amount}
  - name: slv_payments
    builder:
      layer: SILVER
      table_source: {name: brz_payments}
    columns:
      - {name: order_id, type: string, sql_expression: order_id}
      - {name: method, type: string, sql_expression: method}
  - name: slv_star_orders_paid
    builder:
      layer: SILVER_STAR
      table_source: {name: slv_orders}
      joins:
        - other: {name: slv_payments, read_as_stream: false}
          on: [order_id]
"""
# A payment's order number, a declared `long` key of an inner stream-static join: "oX" fails
# its cast, and its row is kept, rescued (docs/joins.md, "A key that fails its cast").
NUMBERED = """\
  - name: order_numbers
    builder: {layer: SILVER}
    columns:
      - {name: order_no, type: long}
      - {name: label, type: string}
    data: [[1, first], [2, second], [3, third], [4, fourth], [5, fifth]]
  - name: slv_star_numbered_payments
    builder:
      layer: SILVER_STAR
      table_source: {name: brz_payments}
      joins:
        - other: {name: order_numbers, read_as_stream: false}
          on: [order_no]
          how: inner
    columns:
      - {name: order_no, type: long, sql_expression: "substr(order_id, 2)"}
      - {name: method, type: string, sql_expression: method}
"""


def _order(number: int) -> str:
    return json.dumps({"order_id": f"o{number}", "amount": 10.0 * number})


def _payment(number: int | str) -> str:
    method = "card" if isinstance(number, int) and number % 2 else "cash"
    return json.dumps({"order_id": f"o{number}", "method": method})


def _project(root: Path, other_selects: str = "", more: str = "") -> tuple[Path, str]:
    text = TEXT.format(other_selects=other_selects, more=more)
    return make_project(root, text, PIPELINE), text


def _landing(root: Path) -> Path:
    landing = root / "landing"
    land(landing, ORDERS, "orders-1.json", [_order(n) for n in (1, 2, 3)])
    land(landing, PAYMENTS, "payments-1.json", [_payment(n) for n in (1, 2)])
    return landing


def _line_of(text: str, needle: str) -> int:
    return text.split(needle, 1)[0].count("\n") + 1


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("stacks/")]


def test_a_selects_mapping_renaming_two_columns_to_one_name_fails_at_the_join(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    selects = "\n            selects: {order_id: order_id, method: paid_by, amount: paid_by}"
    project, text = _project(tmp_path / "project", selects)
    assert main(["validate", "--project", str(project), "--stack", "dev"]) == 2
    (error,) = _errors(capsys)
    assert error.startswith(f"stacks/pipelines/{PIPELINE}.yaml:{_line_of(text, '- other:')}:")
    assert "tables[2].builder.joins[0].other" in error
    assert "renames several columns to paid_by" in error


@pytest.mark.spark
def test_the_deep_check_sees_the_joined_columns(
    spark: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing = _landing(tmp_path)
    # Stream-stream of two bronze tables and stream-static of two silver tables, without
    # selects: both sides have _bronze_at, _source_file (and silver _silver_at): no duplicate.
    good, _ = _project(tmp_path / "good", more=SILVER_PAIR)
    argv = ["validate", "--deep", "--stack", "dev", "--landing", str(landing)]
    assert main([*argv, "--project", str(good)]) == 0, capsys.readouterr().err

    # The other side's `method` renamed onto the left side's `amount`: only Spark sees it.
    selects = "\n            selects: {order_id: order_id, _bronze_at: _bronze_at, method: amount}"
    bad, text = _project(tmp_path / "bad", selects)
    assert main([*argv, "--project", str(bad)]) != 0
    (error,) = _errors(capsys)
    assert error.startswith(f"stacks/pipelines/{PIPELINE}.yaml:{_line_of(text, '- other:')}:")
    assert "tables[2].builder.joins[0]" in error
    assert "two columns named amount" in error

    # Whatever the builder combination: the table's own selects renaming two columns to one.
    selects = "\n      selects: {order_id: id, amount: id}"
    text = TEXT.format(other_selects="", more="").replace(
        "interval_lower: 1 day", "interval_lower: 1 day" + selects
    )
    renamed = make_project(tmp_path / "renamed", text, PIPELINE)
    assert main([*argv, "--project", str(renamed)]) != 0
    (error,) = _errors(capsys)
    assert error.startswith(f"stacks/pipelines/{PIPELINE}.yaml:{_line_of(text, 'selects:')}:")
    assert "tables[2].builder.selects" in error and "two columns named id" in error


@pytest.mark.slow
@pytest.mark.spark
def test_a_stream_stream_join_of_two_bronze_tables_gives_each_match_once_over_three_runs(
    spark: object, tmp_path: Path
) -> None:
    from pyspark.sql import SparkSession

    assert isinstance(spark, SparkSession)
    project, _ = _project(tmp_path / "project", more=NUMBERED)
    landing, state = _landing(tmp_path), tmp_path / "state"
    late = [
        # Run 2: order 3's payment, a run late; order 1's payment landed again; orders 4, 5.
        ((ORDERS, "orders-2.json", [4, 5]), (PAYMENTS, "payments-2.json", [3, 1, 4])),
        # Run 3: order 5's payment, and one for an order "oX", which no order has.
        ((PAYMENTS, "payments-3.json", [5, "X"]),),
    ]
    expected_matches = [2, 4, 5]
    for run_index, matches in enumerate(expected_matches):
        if run_index:
            for folder, name, numbers in late[run_index - 1]:
                lines = [(_order if folder == ORDERS else _payment)(n) for n in numbers]
                land(landing, folder, name, lines)
        assert run(project, PIPELINE, landing, state) == 0
        assert run_state(state).tables["slv_star_paid"].rows_total == matches
    joined = read_table(spark, state, "slv_star_paid", "paid")
    columns = [name.lower() for name in joined.columns]
    assert len(columns) == len(set(columns)), joined.columns
    assert {"_bronze_at", "_source_file", "method", "amount"} <= set(columns)
    rows = sorted((row.order_id, row.amount, row.method) for row in joined.collect())
    assert rows == [(f"o{n}", 10.0 * n, "card" if n % 2 else "cash") for n in range(1, 6)]
    # The left side's system columns: each row's _source_file is its order's file.
    files = {row.order_id: row._source_file for row in joined.collect()}
    assert all(Path(files[f"o{n}"]).name == "orders-1.json" for n in (1, 2, 3))
    assert all(Path(files[f"o{n}"]).name == "orders-2.json" for n in (4, 5))

    # The inner join on the declared `long` order number: every payment once, "oX" included
    # with its raw number rescued and no label, where a plain cast failed the table.
    numbered = read_table(spark, state, "slv_star_numbered_payments", "paid").collect()
    assert sorted(
        (row.order_id, row.order_no, row.label, row._rescued_data) for row in numbered
    ) == [
        ("o1", 1, "first", None),
        ("o1", 1, "first", None),
        ("o2", 2, "second", None),
        ("o3", 3, "third", None),
        ("o4", 4, "fourth", None),
        ("o5", 5, "fifth", None),
        ("oX", None, None, '{"order_no":"X"}'),
    ]
    assert run_state(state).tables["slv_star_numbered_payments"].rescued == 1
