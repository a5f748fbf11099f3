"""The CDC options of Laktory v0.0.22 (DLT's `apply_changes` arguments), applied locally.

Each scenario runs a small change feed through `runtime/scd.py`, the change-applier of local
runs and the eager mode, and asserts the rows DLT documents for the option
(https://learn.microsoft.com/azure/databricks/dlt-ref/dlt-python-ref-apply-changes):
`column_list` keeps only those columns; `ignore_null_updates` keeps a column's value when an
update brings null; `apply_as_truncates` empties the table (SCD type 1 only); with
`track_history_column_list` / `track_history_except_column_list` only the tracked columns open
an SCD type 2 version, the others updating the open version in place.
"""

from __future__ import annotations

from typing import Any

import pytest

from laktory_pulumi.models.sources import Cdc
from laktory_pulumi.runtime.scd import apply_changes, change_spec, sequence_arguments

pytestmark = pytest.mark.spark

DDL = "id INT, name STRING, city STRING, op STRING, seq INT"


def _applied(spark: Any, rows: list[tuple[Any, ...]], **arguments: Any) -> list[tuple[Any, ...]]:
    changes = spark.createDataFrame(rows, DDL)
    spec = change_spec(keys=["id"], sequence_by="seq", **arguments)
    frame = apply_changes(changes, spec)
    return sorted(tuple(row) for row in frame.collect())


def test_column_list_keeps_only_its_columns(spark: Any) -> None:
    rows = [(1, "a", "Paris", "U", 1), (1, "b", "Lyon", "U", 2)]
    assert _applied(spark, rows, column_list=["id", "name"]) == [(1, "b")]
    # SCD type 2: the kept columns and the version bounds.
    assert _applied(spark, rows, column_list=["id", "city"], stored_as_scd_type=2) == [
        (1, "Lyon", 2, None),
        (1, "Paris", 1, 2),
    ]


def test_ignore_null_updates_keeps_the_previous_value_until_a_delete(spark: Any) -> None:
    rows = [
        (1, "a", "Paris", "U", 1),
        (1, None, "Lyon", "U", 2),  # name stays 'a'
        (2, "b", "Rome", "U", 1),
        (2, "b", "Rome", "D", 2),  # a delete with its before-image
        (2, None, "Oslo", "U", 3),  # after the delete nothing is kept: name is null
    ]
    kept = ["id", "name", "city"]
    assert _applied(
        spark, rows, column_list=kept, ignore_null_updates=True, apply_as_deletes="op = 'D'"
    ) == [(1, "a", "Lyon"), (2, None, "Oslo")]
    # Without it, the null overwrites.
    assert _applied(spark, rows[:2], column_list=kept) == [(1, None, "Lyon")]
    # SCD type 2: the new version carries the kept value.
    assert _applied(
        spark, rows[:2], column_list=kept, ignore_null_updates=True, stored_as_scd_type=2
    ) == [(1, "a", "Lyon", 2, None), (1, "a", "Paris", 1, 2)]


def test_ignore_null_updates_column_list_fills_only_its_columns(spark: Any) -> None:
    """What a table without `cdc.columns` passes (`runtime/cdc_columns.py`): every other
    column stays as it is, in its place."""
    rows = [(1, "a", "Paris", "U", 1), (1, None, None, "U", 2)]
    assert _applied(spark, rows, ignore_null_updates_column_list=["name"]) == [
        (1, "a", None, "U", 2)
    ]


def test_a_truncate_empties_the_table_at_its_sequence(spark: Any) -> None:
    rows = [
        (1, "a", "Paris", "U", 1),
        (2, "b", "Rome", "U", 2),
        (None, None, None, "T", 3),  # truncate: keys 1 and 2 vanish
        (2, "c", "Oslo", "U", 4),
        (3, "late", "Nice", "U", 0),  # sequenced before the truncate: gone too
    ]
    assert _applied(spark, rows, except_column_list=["op"], apply_as_truncates="op = 'T'") == [
        (2, "c", "Oslo", 4)
    ]
    with pytest.raises(ValueError, match="SCD type 1 only"):
        change_spec(["id"], "seq", apply_as_truncates="op = 'T'", stored_as_scd_type=2)


def test_track_history_column_list_opens_versions_on_its_columns_only(spark: Any) -> None:
    rows = [
        (1, "a", "Paris", "U", 1),
        (1, "b", "Paris", "U", 2),  # name only: the open version is updated in place
        (1, "b", "Lyon", "U", 3),  # city: a new version
    ]
    assert _applied(
        spark,
        rows,
        except_column_list=["op"],
        stored_as_scd_type=2,
        track_history_column_list=["city"],
    ) == [(1, "b", "Lyon", 3, 3, None), (1, "b", "Paris", 2, 1, 3)]


def test_track_history_except_column_list_ignores_its_columns(spark: Any) -> None:
    rows = [
        (1, "a", "Paris", "U", 1),
        (1, "b", "Paris", "U", 2),  # name is untracked: updated in place
        (1, "b", "Lyon", "U", 3),
    ]
    arguments = sequence_arguments("seq", 2, ["op"], track_history_except=["name"])
    assert arguments == {"sequence_by": "seq", "track_history_except_column_list": ["name"]}
    del arguments["sequence_by"]
    assert _applied(spark, rows, except_column_list=["op"], stored_as_scd_type=2, **arguments) == [
        (1, "b", "Lyon", 3, 3, None),
        (1, "b", "Paris", 2, 1, 3),
    ]


def test_several_sequence_columns_join_the_except_list_or_step_aside() -> None:
    """The sequence columns of issue #12 are merged with the model's except list; with a
    track list (exclusive with it in DLT) they are simply not tracked."""
    merged = sequence_arguments(["ts", "seq"], 2, (), track_history_except=["name"])
    assert merged["track_history_except_column_list"] == ["name", "ts", "seq"]
    only = sequence_arguments(["ts", "seq"], 2, (), track_history_only=["city"])
    assert only["track_history_column_list"] == ["city"]
    assert "track_history_except_column_list" not in only


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"columns": ["id"], "except_columns": ["op"]}, "except_columns", "not both"),
        ({"columns": ["name"]}, "columns", "primary key id"),
        ({"apply_as_truncates": "op = 'T'", "scd_type": 2}, "apply_as_truncates", "scd_type 1"),
        ({"track_history_columns": ["name"]}, "track_history_columns", "scd_type 2"),
        (
            {"scd_type": 2, "track_history_columns": ["a"], "track_history_except_columns": ["b"]},
            "track_history_except_columns",
            "not both",
        ),
    ],
)
def test_combinations_dlt_refuses_fail_validation(
    options: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        Cdc(primary_keys=["id"], sequence_by="seq", **options)
    assert field in str(caught.value)


def test_ignore_null_updates_without_names_fails_at_its_line(tmp_path: Any) -> None:
    from laktory_pulumi.loader import LoadError, load_pipeline_file

    path = tmp_path / "pl.yaml"
    path.write_text(
        """\
name: pl-nulls
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz
    builder:
      layer: BRONZE
      event_source: {name: e}
  - name: slv
    builder:
      layer: SILVER
      table_source:
        name: brz
        cdc:
          primary_keys: [id]
          sequence_by: seq
          ignore_null_updates: true
"""
    )
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, {})
    (error,) = caught.value.errors
    assert error.field == "tables[1].builder.table_source.cdc.ignore_null_updates"
    assert error.line == 18
    assert "needs the table's column names" in error.message
