"""What DLT keeps from a sequence of snapshots, computed by `runtime/snapshots.py`.

DLT's Python reference, create_auto_cdc_from_snapshot_flow
(https://learn.microsoft.com/azure/databricks/ldp/developer/ldp-python-ref-apply-changes-from-snapshot):
a key absent from the target is inserted; a matching key "is updated only if any of the
values in the row have changed"; "rows with keys present in the target but no longer present
in the source are deleted". In SCD 2, `__START_AT` / `__END_AT` are snapshot versions, and with
`track_history_column_list` only those columns open a version.
"""

from __future__ import annotations

from typing import Any

import pytest

from laktory_pulumi.runtime.snapshots import SNAPSHOT_VERSION, apply_snapshots

pytestmark = pytest.mark.spark

DDL = f"id INT, name STRING, city STRING, {SNAPSHOT_VERSION} BIGINT"
# Version 1: ann and bob; 2: ann moves, bob leaves, cid arrives; 3: bob is back, ann renamed
# (same city); 5 (versions need not be consecutive numbers): identical to 3.
SNAPSHOTS = [
    (1, "ann", "Paris", 1), (2, "bob", "Rome", 1),
    (1, "ann", "Lyon", 2), (3, "cid", "Oslo", 2),
    (1, "anne", "Lyon", 3), (2, "bob", "Rome", 3), (3, "cid", "Oslo", 3),
    (1, "anne", "Lyon", 5), (2, "bob", "Rome", 5), (3, "cid", "Oslo", 5),
]  # fmt: skip


def _kept(spark: Any, **arguments: Any) -> list[tuple[Any, ...]]:
    snapshots = spark.createDataFrame(SNAPSHOTS, DDL)
    frame = apply_snapshots(snapshots, ["id"], **arguments)
    assert SNAPSHOT_VERSION not in frame.columns
    return sorted(tuple(row) for row in frame.collect())


def test_scd1_is_the_last_snapshot(spark: Any) -> None:
    assert _kept(spark) == [(1, "anne", "Lyon"), (2, "bob", "Rome"), (3, "cid", "Oslo")]


def test_scd2_versions_close_on_change_and_on_absence(spark: Any) -> None:
    assert _kept(spark, stored_as_scd_type=2) == [
        (1, "ann", "Lyon", 2, 3),
        (1, "ann", "Paris", 1, 2),
        (1, "anne", "Lyon", 3, None),
        (2, "bob", "Rome", 1, 2),  # missing from version 2: deleted there
        (2, "bob", "Rome", 3, None),  # back at 3: a new version
        (3, "cid", "Oslo", 2, None),  # unchanged at 3 and 5: one version
    ]


def test_scd2_tracks_only_the_listed_columns(spark: Any) -> None:
    # The rename at version 3 updates the open version in place: it shows the last values.
    assert _kept(spark, stored_as_scd_type=2, track_history_column_list=["city"]) == [
        (1, "ann", "Paris", 1, 2),
        (1, "anne", "Lyon", 2, None),
        (2, "bob", "Rome", 1, 2),
        (2, "bob", "Rome", 3, None),
        (3, "cid", "Oslo", 2, None),
    ]
