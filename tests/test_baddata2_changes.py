"""Change application matches DLT's on the change feeds real landings see (issue #24, cases 3,
13, 14): a re-delivered change is a no-op, conflicting changes with the same sequence resolve
by one rule in SCD 1 and SCD 2, and a NULL sequence never reaches the target.

DLT: "There should be one distinct update per key at each sequencing value, and NULL
sequencing values are unsupported" (https://docs.databricks.com/en/delta-live-tables/cdc.html).
The whole local pipeline applies changes with this same function (`runtime.dlt_sdp`).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from pyspark.sql import SparkSession
from test_local_support import rows_of

from laktory_pulumi.runtime.scd import ChangeSpec, apply_changes

pytestmark = pytest.mark.spark

SPEC = ChangeSpec(keys=["id"], sequence_by="seq", apply_as_deletes="op = 'D'")
COLUMNS = "id INT, amount DOUBLE, op STRING, seq INT, _source_file STRING"


def test_a_later_file_re_delivering_the_same_changes_is_a_no_op(spark: SparkSession) -> None:
    """Case 3: 6 keys, each changed twice, then the same changes again from another file."""
    first = [(key, float(key), "U", 1, "f1.json") for key in range(6)]
    second = [(key, float(key) * 10, "U", 2, "f1.json") for key in range(6)]
    redelivered = [(key, amount, op, seq, "f2.json") for key, amount, op, seq, _ in second]
    changes = spark.createDataFrame(first + second + redelivered, COLUMNS)

    history = apply_changes(changes, replace(SPEC, stored_as_scd_type=2))
    rows = rows_of(history, ["id", "amount", "__START_AT", "__END_AT"])
    # Before: 18 changes gave every key's version 2 closed at 2 (`__END_AT = 2`), no key current.
    assert len(rows) == 12
    current = [row for row in rows if row[3] is None]
    assert sorted(row[0] for row in current) == list(range(6))
    assert all(row[1] == row[0] * 10.0 and row[2] == 2 for row in current)
    assert sorted(row[0] for row in rows if row[3] == 2) == list(range(6))

    latest = apply_changes(changes, SPEC)
    assert rows_of(latest, ["id", "amount"]) == [(key, key * 10.0) for key in range(6)]


def test_conflicting_changes_with_one_sequence_resolve_alike_in_scd1_and_scd2(
    spark: SparkSession,
) -> None:
    """Case 13: one key, two different values at sequence 2 (landed in either order)."""
    rows = [
        (1, 5.0, "U", 1, "a.json"),
        (1, 7.0, "U", 2, "b.json"),
        (1, 9.0, "U", 2, "c.json"),
        # A delete and an upsert of key 2 at one sequence: the delete wins.
        (2, 1.0, "U", 1, "a.json"),
        (2, 3.0, "U", 2, "b.json"),
        (2, None, "D", 2, "c.json"),
    ]
    for order in (rows, list(reversed(rows))):
        changes = spark.createDataFrame(order, COLUMNS)
        latest = rows_of(apply_changes(changes, SPEC), ["id", "amount"])
        history = apply_changes(changes, replace(SPEC, stored_as_scd_type=2))
        current = rows_of(history.where("__END_AT IS NULL"), ["id", "amount"])
        # Before: SCD 1 kept 7.0 or 9.0 by arrival, SCD 2 the other; now the same, always.
        assert latest == current == [(1, 9.0)]
        assert rows_of(history, ["id", "amount", "__START_AT", "__END_AT"]) == [
            (1, 5.0, 1, 2),
            (1, 9.0, 2, None),
            (2, 1.0, 1, 2),
        ]


def test_a_change_with_a_null_sequence_never_reaches_the_target(spark: SparkSession) -> None:
    """Case 14: before, SCD 2 built a version starting at NULL, and SCD 1 could keep it."""
    changes = spark.createDataFrame(
        [(1, 5.0, "U", 1, "a.json"), (1, 8.0, "U", None, "b.json"), (2, 4.0, "U", None, "b.json")],
        COLUMNS,
    )
    history = apply_changes(changes, replace(SPEC, stored_as_scd_type=2))
    assert rows_of(history, ["id", "amount", "__START_AT", "__END_AT"]) == [(1, 5.0, 1, None)]
    assert rows_of(apply_changes(changes, SPEC), ["id", "amount"]) == [(1, 5.0)]


def test_the_changes_the_target_leaves_out_are_counted_as_warnings(spark: SparkSession) -> None:
    """Case 13 had no warning: a run's summary now shows both checks as WARN rules."""
    from laktory_pulumi.runtime.dlt_sdp import DatasetRecord, count_expectations
    from laktory_pulumi.runtime.expectations import Rule
    from laktory_pulumi.runtime.scd import SEQUENCE_RULES, sequence_checks

    changes = spark.createDataFrame(
        [
            (1, 5.0, "U", 1, "a.json"),
            (1, 7.0, "U", 2, "b.json"),
            (1, 9.0, "U", 2, "c.json"),  # conflicts with 7.0
            (2, 4.0, "U", 1, "a.json"),
            (2, 4.0, "U", 1, "again.json"),  # re-delivered: no conflict
            (3, 1.0, "U", None, "b.json"),  # NULL sequence
        ],
        COLUMNS,
    )
    rules = [Rule(name, condition, "WARN") for name, condition in SEQUENCE_RULES.items()]
    record = DatasetRecord(
        name="t",
        materialized_view=True,
        expectations=rules,
        query=lambda: sequence_checks(changes, SPEC),
    )
    assert count_expectations(record) == {
        "rows": 6,
        "failed:sequence_not_null": 1,
        "failed:one_change_per_sequence": 2,
    }
