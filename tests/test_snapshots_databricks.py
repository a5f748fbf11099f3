"""Snapshot flows and several change flows reach Databricks' `dlt` with DLT's arguments.

With `LAKTORY_DLT_BACKEND=databricks` the shim imports `databricks-dlt` (PyPI, Databricks' own
stub of the `dlt` module); each call is bound to the stub's own signature, so a keyword DLT does
not take fails here (as in `test_cdc_databricks.py`). The stub (0.2.1) predates the
`create_auto_cdc_*` names: DLT's Python reference says `create_auto_cdc_flow` and
`create_auto_cdc_from_snapshot_flow` replace `apply_changes` and `apply_changes_from_snapshot`
"with the same signature", so the shim calls the older names where only they exist.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import dlt as shim

databricks_dlt = pytest.importorskip("dlt", reason="databricks-dlt is in the dev extra")

PIPELINE = r"""
name: pl-retail
tables:
  - name: brz_stores
    builder:
      layer: BRONZE
      event_source:
        name: stores
        producer: {name: erp}
        format: CSV
        snapshots:
          primary_keys: [store_id]
          scd_type: 2
          version_pattern: 'LOAD_(\d+)\.csv'
          track_history_except_columns: [phone]
  - name: slv_stores
    builder:
      layer: SILVER
      drop_source_columns: false
      table_source:
        name: brz_stores
        filter: __END_AT IS NULL
        snapshots: {primary_keys: [product_id], scd_type: 2, version: arrival}
  - name: slv_prices
    builder:
      layer: SILVER
      drop_source_columns: false
      table_source:
        name: dev.erp.price_extracts
        snapshots:
          primary_keys: [product_id]
          scd_type: 2
          version: column
          version_column: extract_date
  - name: slv_orders
    builder:
      layer: SILVER
      drop_source_columns: false
      table_sources:
        - name: dev.web.orders
          cdc: {primary_keys: [id], sequence_by: seq, apply_as_deletes: "op = 'D'"}
        - name: dev.calls.orders
          cdc: {primary_keys: [id], sequence_by: ts, except_columns: [op]}
"""

_RECORDED = ("apply_changes", "apply_changes_from_snapshot", "create_streaming_table", "view")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every recorded call, bound to the stub's signature (TypeError if it differs)."""
    monkeypatch.setenv(shim.BACKEND_ENV, "databricks")
    shim.use_backend(None)
    assert shim.backend() is databricks_dlt
    databricks_dlt.enable_local_execution()  # the stub raises otherwise
    recorded: list[tuple[str, dict[str, Any]]] = []
    for name in _RECORDED:
        real = getattr(databricks_dlt, name)

        def checked(*args: Any, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
            bound = inspect.signature(_real).bind(*args, **kwargs).arguments
            recorded.append((_name, dict(bound)))
            return _real(*args, **kwargs)

        monkeypatch.setattr(databricks_dlt, name, checked)
    try:
        yield recorded
    finally:
        shim.use_backend(None)


def _of(calls: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [arguments for called, arguments in calls if called == name]


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_snapshot_and_change_flows_bind_to_dlts_signatures(
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    from laktory_pulumi.runtime.snapshots import SnapshotReader
    from laktory_pulumi.runtime.tables import define_table

    pipeline = Pipeline.model_validate(yaml.safe_load(PIPELINE))
    for table in pipeline.tables:
        define_table(table, spark=None)  # type: ignore[arg-type]  # query functions never run

    stores, silver, prices = _of(calls, "apply_changes_from_snapshot")
    # Historical snapshots: DLT calls the source function with the latest version it applied.
    assert isinstance(stores["source"], SnapshotReader)
    assert stores["target"] == "brz_stores"
    assert stores["keys"] == ["store_id"]
    assert stores["stored_as_scd_type"] == 2
    # The system columns differ in every snapshot: tracked, each would open a version.
    assert stores["track_history_except_column_list"] == ["phone", "_source_file", "_bronze_at"]
    assert "snapshot_and_version" not in stores  # the stub's older keyword, not DLT's
    # A periodic snapshot: DLT reads the view whole at each update.
    assert silver["source"] == "slv_stores_snapshot"
    assert "slv_stores_snapshot" in [view["name"] for view in _of(calls, "view")]
    # A version column differs in every snapshot too: left untracked.
    assert isinstance(prices["source"], SnapshotReader)
    assert prices["track_history_except_column_list"][-2:] == ["_silver_at", "extract_date"]

    web, phone = _of(calls, "apply_changes")
    assert (web["flow_name"], phone["flow_name"]) == (
        "slv_orders__table_dev_web_orders",
        "slv_orders__table_dev_calls_orders",
    )
    assert {web["target"], phone["target"]} == {"slv_orders"}
    assert (web["source"], phone["source"]) == (
        "slv_orders_changes__table_dev_web_orders",
        "slv_orders_changes__table_dev_calls_orders",
    )
    assert web["apply_as_deletes"] == "op = 'D'"
    assert phone["except_column_list"] == ["op"]
    # Each feed orders its changes its own way.
    assert (web["sequence_by"], phone["sequence_by"]) == ("seq", "ts")
    targets = [table["name"] for table in _of(calls, "create_streaming_table")]
    assert targets.count("slv_orders") == 1  # created once, for both flows


@pytest.mark.spark
def test_the_source_function_gives_the_next_snapshot_and_its_version(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DLT's source protocol: `source(latest)` -> (snapshot, version), None once there is no
    later snapshot (https://learn.microsoft.com/azure/databricks/ldp/developer/
    ldp-python-ref-apply-changes-from-snapshot, "Implement the source argument")."""
    from laktory_pulumi.runtime.readers import LANDING_ROOT_ENV
    from laktory_pulumi.runtime.snapshots import SnapshotReader

    folder = tmp_path / "events" / "erp" / "stores"
    folder.mkdir(parents=True)
    (folder / "LOAD_1.csv").write_text("store_id,address,phone\n1,a,x\n2,b,y\n")
    (folder / "LOAD_10.csv").write_text("store_id,address,phone\n1,a2,x\n")
    monkeypatch.setenv(LANDING_ROOT_ENV, str(tmp_path))
    monkeypatch.setenv(shim.BACKEND_ENV, "eager")
    shim.use_backend(None)
    try:
        table = Pipeline.model_validate(yaml.safe_load(PIPELINE)).tables[0]
        reader = SnapshotReader(table, spark)
        assert reader.versions() == [1, 10]  # as numbers: 10 after 1
        first = reader(None)
        assert first is not None and first[1] == 1
        assert sorted(row["store_id"] for row in first[0].collect()) == ["1", "2"]
        assert "__laktory_snapshot_version" not in first[0].columns
        later = reader(1)
        assert later is not None and later[1] == 10
        assert [row["address"] for row in later[0].collect()] == ["a2"]
        assert reader(10) is None
    finally:
        shim.use_backend(None)
