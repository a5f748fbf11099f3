"""The Laktory v0.0.22 CDC fields reach Databricks' `dlt.apply_changes` under DLT's names.

With `LAKTORY_DLT_BACKEND=databricks` the shim imports `databricks-dlt` (PyPI, Databricks' own
stub of the `dlt` module); each call is bound to the stub's own signature, so a keyword DLT does
not take fails here (as in `test_udfs_databricks_dlt.py`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import dlt as shim

databricks_dlt = pytest.importorskip("dlt", reason="databricks-dlt is in the dev extra")

PIPELINE = """\
name: pl-cdc
tables:
  - name: brz_users
    builder:
      layer: BRONZE
      event_source: {name: users, producer: {name: crm}}
  - name: slv_users
    builder:
      layer: SILVER
      table_source:
        name: brz_users
        cdc:
          primary_keys: [id]
          sequence_by: seq
          columns: [id, name, city, seq]
          ignore_null_updates: true
          apply_as_truncates: "op = 'T'"
  - name: slv_users_history
    builder:
      layer: SILVER
      table_source:
        name: brz_users
        cdc:
          primary_keys: [id]
          sequence_by: seq
          scd_type: 2
          except_columns: [op]
          track_history_except_columns: [name]
  - name: slv_users_cities
    builder:
      layer: SILVER
      table_source:
        name: brz_users
        cdc:
          primary_keys: [id]
          sequence_by: seq
          scd_type: 2
          track_history_columns: [city]
          ignore_null_updates: true
    columns:
      - {name: id, type: int, sql_expression: id}
      - {name: city, type: string, sql_expression: city}
      - {name: seq, type: int, sql_expression: seq}
"""


@pytest.fixture
def apply_changes_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every `apply_changes` call, bound to the stub's signature (TypeError if it differs)."""
    monkeypatch.setenv(shim.BACKEND_ENV, "databricks")
    shim.use_backend(None)
    assert shim.backend() is databricks_dlt
    databricks_dlt.enable_local_execution()  # the stub raises otherwise
    calls: list[dict[str, Any]] = []
    real = databricks_dlt.apply_changes

    def checked(*args: Any, **kwargs: Any) -> Any:
        calls.append(dict(inspect.signature(real).bind(*args, **kwargs).arguments))
        return real(*args, **kwargs)

    monkeypatch.setattr(databricks_dlt, "apply_changes", checked)
    try:
        yield calls
    finally:
        shim.use_backend(None)


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_cdc_fields_become_apply_changes_arguments(
    apply_changes_calls: list[dict[str, Any]],
) -> None:
    from laktory_pulumi.runtime.tables import define_table

    pipeline = Pipeline.model_validate(yaml.safe_load(PIPELINE))
    for table in pipeline.tables[1:]:
        define_table(table, spark=None)  # type: ignore[arg-type]  # query functions never run
    latest, history, cities = apply_changes_calls
    assert latest["column_list"] == ["id", "name", "city", "seq"]
    assert latest["ignore_null_updates"] is True
    assert latest["apply_as_truncates"] == "op = 'T'"
    assert "track_history_except_column_list" not in latest
    # (Several sequence columns join this list: tests/test_cdc_options.py.)
    assert history["track_history_except_column_list"] == ["name"]
    assert history["except_column_list"] == ["op"]
    assert cities["track_history_column_list"] == ["city"]
    # Without cdc.columns, every non-key column the table returns (its declared ones and the
    # silver system columns), which DLT reads as ignore_null_updates.
    assert cities["ignore_null_updates_column_list"] == [
        "city",
        "seq",
        "_rescued_data",
        "_silver_at",
    ]
    assert "ignore_null_updates" not in cities
    assert "track_history_except_column_list" not in cities
