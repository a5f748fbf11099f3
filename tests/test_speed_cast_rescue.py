"""The rescue of failed casts, built as SQL text, blames only the casts that failed here.

Issue #24 case 5: the JSON reader's corrupt-record text holds every field of a bad line, so a
bad value in a field silver never reads left `order_id` and `amount` as keys of the rescued
text, and the `cast:` rules, which looked at the keys alone, sent a valid order to quarantine.
Small frames on the eager backend, the same `process`, expectations and quarantine code the
templates run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import process
from laktory_pulumi.runtime.builders import raw_sql
from laktory_pulumi.runtime.expectations import FAILED_EXPECTATIONS_COLUMN
from laktory_pulumi.runtime.tables import define_quarantine

pytestmark = pytest.mark.spark

COLUMNS = [
    {"name": "order_id", "type": "bigint", "spark_func_name": "coalesce", "spark_func_args": ["data.order_id"]},
    {"name": "amount", "type": "double", "sql_expression": "data.amount"},
]  # fmt: skip

# (order_id, amount, note, the bronze row's rescued text): the reader's corrupt-record column
# holds the whole line when a field of it (here `note`, which silver never reads) is bad.
ORDERS = [
    ("1", "10.5", "ok", None),
    ("2", "7.25", None, '{"order_id": 2, "amount": 7.25, "note": {"oops": 1}}'),
    ("3", "n/a", "ok", None),
    ("4", "3.0", "ok", None),
]


KNOWN_ORDER = {"name": "known_order", "expression": "order_id IS NOT NULL", "action": "DROP"}


SHOP = {"name": "order", "producer": {"name": "shop"}}
PARTNER = {"name": "order", "producer": {"name": "partner"}}


def _pipeline(columns: list[dict[str, Any]], bronze: dict[str, Any] | None = None) -> Pipeline:
    """Bronze orders (`bronze`: its builder's sources, one shop source by default), then a
    silver table of `columns` with quarantine."""
    return Pipeline.model_validate(
        {
            "name": "pl-orders",
            "tables": [
                {
                    "name": "brz_orders",
                    "builder": {"layer": "BRONZE", **(bronze or {"event_source": SHOP})},
                },
                {
                    "name": "slv_orders",
                    "builder": {"layer": "SILVER", "table_source": {"name": "brz_orders"}},
                    "columns": columns,
                    "expectations": [KNOWN_ORDER],
                    "quarantine": True,
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


def _bronze(spark: Any) -> Any:
    frame = spark.createDataFrame(
        ORDERS, "order_id string, amount string, note string, rescued string"
    )
    return frame.selectExpr(
        "named_struct('order_id', order_id, 'amount', amount, 'note', note) AS data",
        "rescued AS _rescued_data",
        "'orders.json' AS _source_file",
        "current_timestamp() AS _bronze_at",
    )


def _silver(table: Any, bronze: Any) -> Any:
    from laktory_pulumi.runtime import dlt

    @dlt.table(name=table.name)
    @dlt.expectations(table)
    def silver() -> Any:
        return process(table, bronze)

    return dlt.get_df(silver)


@pytest.mark.parametrize(
    "bronze",
    [{"event_source": SHOP}, {"event_sources": [SHOP, PARTNER]}],
    ids=["one source", "two sources"],
)
def test_a_bad_field_silver_never_reads_sends_no_valid_order_to_quarantine(
    spark: Any, eager: Any, bronze: dict[str, Any]
) -> None:
    """With one bronze source or several (each flow's file rows rescued alike, issue #24): the
    bronze row's rescued text reaches silver, and a failed cast adds to it."""
    from laktory_pulumi.runtime import dlt

    table = _pipeline(COLUMNS, bronze).table("slv_orders")
    bronze = _bronze(spark)
    eager.frames["brz_orders"] = bronze

    kept = {row.order_id: row for row in _silver(table, bronze).collect()}
    # Before: 2 orders kept (1 and 4), order 2 quarantined under cast:order_id and cast:amount.
    assert sorted(kept) == [1, 2, 4]
    assert (kept[2].amount, kept[2]._rescued_data) == (7.25, ORDERS[1][3])
    quarantined = dlt.get_df(define_quarantine(table, spark)).collect()
    assert [(row[FAILED_EXPECTATIONS_COLUMN], row._source_file) for row in quarantined] == [
        (["cast:amount"], "orders.json")  # order 3 alone, blamed on the one field that failed
    ]
    assert json.loads(quarantined[0]._rescued_data) == {"amount": "n/a"}


def test_the_text_rescue_and_the_column_rescue_write_the_same_rows(spark: Any) -> None:
    """`trim` is no function `raw_sql` writes as SQL: that table takes the column path."""
    note = {"name": "note", "type": "string", "spark_func_name": "coalesce",
            "spark_func_args": ["data.note"]}  # fmt: skip
    trimmed = {**note, "spark_func_name": "trim"}
    bronze = _bronze(spark)
    written = []
    for extra in (note, trimmed):
        table = _pipeline([*COLUMNS, extra]).table("slv_orders")
        assert (raw_sql(table.columns[-1], {}) is None) == (extra is trimmed)
        frame = process(table, bronze).drop("_bronze_at", "_silver_at")
        written.append(sorted(frame.collect(), key=lambda row: row.order_id))
    text, columns = written
    assert text == columns
    assert [json.loads(row._rescued_data or "null") for row in text] == [
        None,
        json.loads(ORDERS[1][3]),
        {"amount": "n/a"},
        None,
    ]
