"""CDC ordered by several columns (issue #12): DLT-META's `sequence_by: "ts, seq"` and a YAML list.

DLT orders a change feed by several columns when `sequence_by` is their struct
(https://docs.databricks.com/en/delta-live-tables/cdc.html, "sequence_by"); locally
`runtime/scd.py` orders by the same struct, which Spark compares field by field. A sequence
column the change feed lacks fails validation (or the deep check) at its line.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from laktory_pulumi.loader import LoadError, load_pipeline_file
from laktory_pulumi.models import Pipeline
from laktory_pulumi.models.sources import Cdc

INVALID = Path(__file__).parent / "data" / "invalid"


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("ts, seq", ["ts", "seq"]),
        ("ts,seq", ["ts", "seq"]),
        (["ts", "seq"], ["ts", "seq"]),
        (["ts"], "ts"),
        ("ts", "ts"),
        ("struct(ts, seq)", "struct(ts, seq)"),  # an expression, kept as written
    ],
)
def test_sequence_by_accepts_one_column_an_expression_or_several(written: Any, read: Any) -> None:
    assert Cdc(primary_keys=["id"], sequence_by=written).sequence_by == read


@pytest.mark.parametrize("written", ["ts,", "ts, ts", ["ts", "a b"], " "])
def test_a_sequence_by_that_names_no_clear_columns_is_refused(written: Any) -> None:
    with pytest.raises(ValueError, match="sequence_by"):
        Cdc(primary_keys=["id"], sequence_by=written)


def test_a_sequence_column_the_change_feed_lacks_is_refused_at_its_line() -> None:
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(INVALID / "cdc_sequence_column_missing.yaml", {})
    (error,) = caught.value.errors
    assert (error.line, error.column) == (13, 29)
    assert error.field == "tables[0].builder.table_source.cdc.sequence_by[1]"
    assert "(did you mean 'seq'?)" in error.message


CHANGES_DDL = "id INT, name STRING, ts INT, seq INT"
# Key 1: two changes at the same ts, told apart by seq, landed in the wrong order; then a
# change with a lower ts but a higher seq, which is earlier.
CHANGES = [
    (1, "first", 5, 1),
    (1, "third", 7, 2),
    (1, "second", 7, 1),
    (1, "older", 4, 9),
    (2, "only", 1, 1),
]


@pytest.mark.spark
def test_the_later_change_by_ts_then_seq_wins_locally(spark: Any) -> None:
    from pyspark.sql import functions as F

    from laktory_pulumi.runtime.scd import apply_changes, change_spec, sequence_arguments

    changes = spark.createDataFrame(CHANGES, CHANGES_DDL)
    cdc = Cdc(primary_keys=["id"], sequence_by="ts, seq")
    latest = apply_changes(changes, change_spec(["id"], **sequence_arguments(cdc.sequence_by, 1)))
    assert sorted(tuple(r) for r in latest.select("id", "name").collect()) == [
        (1, "third"),
        (2, "only"),
    ]

    history = apply_changes(
        changes,
        change_spec(["id"], stored_as_scd_type=2, **sequence_arguments(cdc.sequence_by, 2)),
    )
    ordered = history.where("id = 1").orderBy(F.col("__START_AT"))
    rows = [(r["name"], tuple(r["__START_AT"]), r["__END_AT"]) for r in ordered.collect()]
    assert rows == [
        ("older", (4, 9), (5, 1)),
        ("first", (5, 1), (7, 1)),
        ("second", (7, 1), (7, 2)),
        ("third", (7, 2), None),
    ]
    # Its sequence columns are not compared: a repeat differing only in them opens no version.
    repeat = changes.unionByName(spark.createDataFrame([(2, "only", 3, 0)], CHANGES_DDL))
    again = apply_changes(
        repeat,
        change_spec(["id"], stored_as_scd_type=2, **sequence_arguments(["ts", "seq"], 2)),
    )
    assert again.where("id = 2").count() == 1


CDC_PIPELINE = """\
name: pl-cdc
edition: PRO
tables:
  - name: slv_customers
    builder:
      layer: SILVER
      table_source:
        name: crm.raw.customers
        cdc: {primary_keys: [id], sequence_by: "ts, seq", scd_type: 2, except_columns: [seq]}
"""


@pytest.fixture
def databricks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The `databricks-dlt` stub as the backend, each call bound to the stub's signature."""
    import inspect

    from laktory_pulumi.runtime import dlt as shim

    stub = pytest.importorskip("dlt", reason="databricks-dlt is in the dev extra")
    monkeypatch.setenv(shim.BACKEND_ENV, "databricks")
    shim.use_backend(None)
    assert shim.backend() is stub
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stub.enable_local_execution()
    calls: list[tuple[str, dict[str, Any]]] = []

    class Checked:
        def __getattr__(self, name: str) -> Any:
            real = getattr(stub, name)

            def checked(*args: Any, **kwargs: Any) -> Any:
                bound = inspect.signature(real).bind(*args, **kwargs)  # TypeError if not
                calls.append((name, dict(bound.arguments)))
                return real(*args, **kwargs)

            return checked

    shim._backend = Checked()
    try:
        yield calls
    finally:
        shim.use_backend(None)


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore:This is a stub")
def test_databricks_apply_changes_gets_the_struct_of_the_sequence_columns(
    spark: Any, databricks: list[tuple[str, dict[str, Any]]]
) -> None:
    from pyspark.sql import Column

    from laktory_pulumi.runtime.tables import define_table

    pipeline = Pipeline.model_validate(yaml.safe_load(CDC_PIPELINE))
    define_table(pipeline.tables[0], spark)
    (arguments,) = [args for name, args in databricks if name == "apply_changes"]
    sequence = arguments["sequence_by"]
    assert isinstance(sequence, Column)
    assert "struct(ts, seq)" in str(sequence)
    # Only `ts` is tracked-except: `seq` is left out of the target (except_columns).
    assert arguments["track_history_except_column_list"] == ["ts"]
    assert arguments["stored_as_scd_type"] == 2


@pytest.mark.spark
def test_the_deep_check_finds_a_missing_sequence_column_where_the_yaml_cannot(spark: Any) -> None:
    from laktory_pulumi.analysis.deep import analyse_pipeline

    pipeline = Pipeline.model_validate(
        yaml.safe_load(
            """\
name: pl-cdc
edition: PRO
tables:
  - name: brz_customers
    builder:
      layer: BRONZE
      event_source: {name: customer, producer: {name: crm}, schema_ddl: "id INT, ts INT"}
  - name: slv_customers
    builder:
      layer: SILVER
      drop_source_columns: false
      table_source:
        name: brz_customers
        cdc: {primary_keys: [id], sequence_by: [ts, seq]}
"""
        )
    )
    (finding,) = analyse_pipeline(pipeline, spark)
    assert finding.path == ("tables", 1, "builder", "table_source", "cdc", "sequence_by", 1)
    assert "sequence_by 'seq'" in finding.message


LOCAL_PIPELINE = """\
name: pl-seq
target: crm
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz_customers
    builder:
      layer: BRONZE
      event_source:
        name: customer
        producer: {name: crm}
        schema_ddl: "id INT, name STRING, ts INT, seq INT"
  - name: slv_customers
    builder:
      layer: SILVER
      drop_source_columns: false
      table_source:
        name: brz_customers
        cdc: {primary_keys: [id], sequence_by: "ts, seq"}
  - name: slv_customers_history
    builder:
      layer: SILVER
      drop_source_columns: false
      table_source:
        name: brz_customers
        cdc: {primary_keys: [id], sequence_by: [ts, seq], scd_type: 2}
"""


@pytest.mark.slow
@pytest.mark.spark
def test_a_local_run_orders_changes_by_ts_then_seq(spark: Any, tmp_path: Path) -> None:
    import json

    from test_local_support import land, make_project, read_table, rows_of, run

    from laktory_pulumi.local.engine import stop_engine
    from laktory_pulumi.local.layout import StateLayout

    project = make_project(tmp_path / "project", LOCAL_PIPELINE, "pl-seq")
    landing, state = tmp_path / "landing", tmp_path / "state"
    lines = [json.dumps(dict(zip(("id", "name", "ts", "seq"), c, strict=True))) for c in CHANGES]
    land(landing, Path("events") / "crm" / "customer", "1.json", lines)
    try:
        assert run(project, "pl-seq", landing, state) == 0
    finally:
        stop_engine(StateLayout.at(state))
    latest = read_table(spark, state, "slv_customers", "crm")
    assert rows_of(latest, ["id", "name"]) == [(1, "third"), (2, "only")]
    history = read_table(spark, state, "slv_customers_history", "crm")
    assert rows_of(history.where("id = 1"), ["name"]) == [
        ("first",),
        ("older",),
        ("second",),
        ("third",),
    ]
    current = history.where("id = 1 AND __END_AT IS NULL")
    assert [(r["name"], tuple(r["__START_AT"])) for r in current.collect()] == [("third", (7, 2))]
