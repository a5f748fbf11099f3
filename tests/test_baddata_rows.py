"""Bad values never block a table and never vanish; expectations and quarantine see every row.

Small frames on the eager backend (the same `process`, `dlt.expectations` and quarantine code
the templates run); the local pipeline runs are in `test_baddata_pipeline.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import process
from laktory_pulumi.runtime.expectations import FAILED_EXPECTATIONS_COLUMN
from laktory_pulumi.runtime.tables import define_quarantine

pytestmark = pytest.mark.spark

COLUMNS = [
    {"name": "created_at", "type": "timestamp", "spark_func_name": "coalesce", "spark_func_args": ["data._created_at"]},
    {"name": "symbol", "type": "string", "spark_func_name": "coalesce", "spark_func_args": ["data.symbol"]},
    {"name": "open", "type": "double", "sql_expression": "data.open"},
]  # fmt: skip


def _pipeline(**silver: Any) -> Pipeline:
    return Pipeline.model_validate(
        {
            "name": "pl-bad",
            "tables": [
                {
                    "name": "brz_prices",
                    "builder": {
                        "layer": "BRONZE",
                        "event_source": {"name": "price", "producer": {"name": "p"}},
                    },
                },
                {
                    "name": "slv_prices",
                    "builder": {"layer": "SILVER", "table_source": {"name": "brz_prices"}},
                    "columns": COLUMNS,
                    **silver,
                },
            ],
        }
    )


@pytest.fixture
def eager() -> Iterator[Any]:
    from laktory_pulumi.runtime import dlt

    backend = dlt.use_backend("eager")
    yield backend
    dlt.use_backend(None)


def _bronze(spark: Any, rows: list[tuple[Any, ...]]) -> Any:
    """Bronze rows as the bronze template writes them, `_created_at` and `open` as text."""
    frame = spark.createDataFrame(
        rows, "created string, symbol string, open string, rescued string, file string"
    )
    return frame.selectExpr(
        "named_struct('_created_at', created, 'symbol', symbol, 'open', open) AS data",
        "rescued AS _rescued_data",
        "file AS _source_file",
        "current_timestamp() AS _bronze_at",
    )


POISONED = [
    ("2024-05-01T10:00:00Z", "AAPL", "1.5", None, "good.json"),
    ("notatime", "MSFT", "2.5", None, "poison.json"),
    ("2024-05-01T11:00:00Z", "GOOGL", "n/a", "older text", "poison.json"),
]


def _define_silver(table: Any, bronze: Any) -> Any:
    from laktory_pulumi.runtime import dlt

    @dlt.table(name=table.name)
    @dlt.expectations(table)
    def silver() -> Any:
        return process(table, bronze)

    return dlt.get_df(silver)


def test_a_value_failing_its_cast_flows_on_null_with_its_raw_text_rescued(
    spark: Any, eager: Any
) -> None:
    table = _pipeline().table("slv_prices")
    rows = {row.symbol: row for row in _define_silver(table, _bronze(spark, POISONED)).collect()}

    assert set(rows) == {"AAPL", "MSFT", "GOOGL"}  # nothing blocks, nothing is dropped
    assert rows["AAPL"].open == 1.5 and rows["AAPL"]._rescued_data is None
    assert rows["MSFT"].created_at is None
    assert json.loads(rows["MSFT"]._rescued_data) == {"created_at": "notatime"}
    assert rows["MSFT"]._source_file == "poison.json"
    # Merged with the text the row already had.
    assert json.loads(rows["GOOGL"]._rescued_data) == {"open": "n/a", "_rescued_data": "older text"}


def test_a_quarantined_table_sends_a_failed_cast_to_quarantine_with_its_file(
    spark: Any, eager: Any
) -> None:
    from laktory_pulumi.runtime import dlt

    expectations = [{"name": "known_symbol", "expression": "symbol IS NOT NULL", "action": "DROP"}]
    table = _pipeline(expectations=expectations, quarantine=True).table("slv_prices")
    bronze = _bronze(spark, POISONED)
    eager.frames["brz_prices"] = bronze

    kept = _define_silver(table, bronze)
    assert [row.symbol for row in kept.collect()] == ["AAPL"]

    quarantined = dlt.get_df(define_quarantine(table, spark))
    failed = {
        row.symbol: (row[FAILED_EXPECTATIONS_COLUMN], row._source_file)
        for row in quarantined.collect()
    }
    assert failed == {
        "MSFT": (["cast:created_at"], "poison.json"),
        "GOOGL": (["cast:open"], "poison.json"),
    }


def test_quarantine_counts_every_failing_row_before_deduplication(spark: Any, eager: Any) -> None:
    """8 rows failing a DROP rule, 6 of them NULL keys and 2 duplicates: 8 quarantined."""
    from laktory_pulumi.runtime import dlt

    expectations = [{"name": "known_symbol", "expression": "symbol IS NOT NULL", "action": "DROP"}]
    table = _pipeline(
        expectations=expectations,
        quarantine=True,
        primary_key=["symbol", "created_at"],
        builder={
            "layer": "SILVER",
            "table_source": {"name": "brz_prices"},
            "drop_duplicates": True,
        },
    ).table("slv_prices")
    failing = [("2024-05-01T10:00:00Z", None, "1", None, "f.json")] * 6 + [
        ("2024-05-01T11:00:00Z", None, "1", None, "f.json")
    ] * 2
    valid = [("2024-05-01T10:00:00Z", "AAPL", "1", None, "f.json")] * 3 + [
        ("2024-05-01T10:00:00Z", "MSFT", "2", None, "f.json")
    ]
    bronze = _bronze(spark, failing + valid)
    eager.frames["brz_prices"] = bronze

    kept = _define_silver(table, bronze)
    # Valid rows are deduplicated as before; the failing ones are all in quarantine.
    assert sorted(row.symbol for row in kept.collect()) == ["AAPL", "MSFT"]
    assert dlt.get_df(define_quarantine(table, spark)).count() == 8


def test_renaming_selects_deduplicate_on_the_output_names(spark: Any, eager: Any) -> None:
    table = _pipeline(
        primary_key=["symbol"],
        builder={
            "layer": "SILVER",
            "table_source": {"name": "brz_prices"},
            "drop_duplicates": True,
            "selects": {"symbol": "ticker", "open": "open"},
        },
    ).table("slv_prices")
    rows = [("2024-05-01T10:00:00Z", "AAPL", "1", None, "f.json")] * 3
    kept = _define_silver(table, _bronze(spark, rows))
    assert [row.ticker for row in kept.collect()] == ["AAPL"]


def test_quarantined_tables_add_one_drop_rule_per_cast_that_can_fail() -> None:
    from laktory_pulumi.runtime.expectations import rules_of

    expectations = [{"name": "known_symbol", "expression": "symbol IS NOT NULL", "action": "DROP"}]
    quarantined = _pipeline(expectations=expectations, quarantine=True).table("slv_prices")
    names = [(rule.name, rule.action) for rule in rules_of(quarantined)]
    # `symbol` is cast to string, which cannot fail.
    assert names == [("known_symbol", "DROP"), ("cast:created_at", "DROP"), ("cast:open", "DROP")]
    plain = _pipeline(expectations=expectations).table("slv_prices")
    assert [rule.name for rule in rules_of(plain)] == ["known_symbol"]


class _DatabricksDlt:
    """What the templates call of Databricks' `dlt` module, recorded (no workspace here).

    No `name` attribute: the shim takes such a backend for Databricks' own module.
    """

    def __init__(self, frames: dict[str, Any]) -> None:
        self.frames = frames
        self.views: dict[str, Any] = {}
        self.expectations: dict[str, dict[str, str]] = {}

    def view(self, query_function: Any = None, *, name: str | None = None, **_: Any) -> Any:
        self.views[name or query_function.__name__] = query_function

    def expect_all_or_drop(self, rules: dict[str, str]) -> Any:
        def decorate(function: Any) -> Any:
            self.expectations.setdefault("DROP", {}).update(rules)
            return function

        return decorate

    def read_stream(self, name: str) -> Any:
        return self.frames[name]


def test_on_databricks_expectations_apply_to_a_view_the_table_deduplicates(spark: Any) -> None:
    """Native expectations apply to a query's result; the table reads the checked view."""
    from laktory_pulumi.runtime import dlt

    expectations = [{"name": "known_symbol", "expression": "symbol IS NOT NULL", "action": "DROP"}]
    table = _pipeline(
        expectations=expectations,
        primary_key=["symbol"],
        builder={
            "layer": "SILVER",
            "table_source": {"name": "brz_prices"},
            "drop_duplicates": True,
        },
    ).table("slv_prices")
    rows = [("2024-05-01T10:00:00Z", "AAPL", "1", None, "f.json")] * 3
    bronze = _bronze(spark, rows)
    fake = _DatabricksDlt({})
    dlt.install_backend(fake)
    try:

        @dlt.expectations(table)
        def silver() -> Any:
            return process(table, bronze)

        assert set(fake.views) == {"slv_prices_expected"}
        assert fake.expectations == {"DROP": {"known_symbol": "symbol IS NOT NULL"}}
        # The view keeps every row (no deduplication before the rules)...
        checked = fake.views["slv_prices_expected"]()
        assert checked.count() == 3
        # ...and the table's query deduplicates what the view kept.
        fake.frames["slv_prices_expected"] = checked
        assert silver().count() == 1
    finally:
        dlt.install_backend(None)
