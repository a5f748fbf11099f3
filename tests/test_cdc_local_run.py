"""One local SDP run with Laktory v0.0.22's CDC options: `columns`, `ignore_null_updates`,
`apply_as_truncates` (SCD 1), `track_history_columns` and `ignore_null_updates` without
`columns` (SCD 2) give DLT's rows
(https://learn.microsoft.com/azure/databricks/dlt-ref/dlt-python-ref-apply-changes).
Each option's corner cases are in `test_cdc_options.py`; this run shows they reach SDP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from test_local_support import land, make_project, read_table, rows_of, run

pytestmark = [pytest.mark.slow, pytest.mark.spark]

EVENTS = Path("events") / "crm" / "user"
PIPELINE = """\
name: pl-users
target: crm
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
  - notebook: {path: /pipelines/dlt_gld_template.py}
tables:
  - name: brz_users
    builder:
      layer: BRONZE
      event_source:
        name: user
        producer: {name: crm}
        schema_ddl: "id INT, name STRING, city STRING, op STRING, seq INT"
  - name: slv_users
    builder:
      layer: SILVER
      table_source:
        name: brz_users
        cdc:
          primary_keys: [id]
          sequence_by: seq
          columns: [id, name, city]
          ignore_null_updates: true
          apply_as_deletes: "op = 'D'"
          apply_as_truncates: "op = 'T'"
    columns: &columns
      - {name: id, type: int, spark_func_name: coalesce, spark_func_args: [id]}
      - {name: name, type: string, spark_func_name: coalesce, spark_func_args: [name]}
      - {name: city, type: string, spark_func_name: coalesce, spark_func_args: [city]}
      - {name: op, type: string, spark_func_name: coalesce, spark_func_args: [op]}
      - {name: seq, type: int, spark_func_name: coalesce, spark_func_args: [seq]}
  - name: slv_users_history
    builder:
      layer: SILVER
      table_source:
        name: brz_users
        filter: "op <> 'T'"
        cdc:
          primary_keys: [id]
          sequence_by: seq
          scd_type: 2
          except_columns: [op]
          track_history_columns: [city]
          ignore_null_updates: true  # no cdc.columns: the declared ones are filled
    columns: *columns
  - name: gld_user_cities
    builder:
      layer: GOLD
      # A stream of a CDC target, skipping its change commits (Delta's skipChangeCommits on
      # Databricks); locally the target is recomputed, so it is read whole.
      table_source: {name: slv_users_history, skip_change_commits: true}
    columns:
      - {name: id, type: int, sql_expression: id}
      - {name: city, type: string, sql_expression: city}
"""


def test_cdc_options_give_dlts_rows_in_a_local_run(spark: SparkSession, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", PIPELINE, "pl-users")
    landing, state = tmp_path / "landing", tmp_path / "state"
    changes = [
        (1, "ann", "Paris", "U", 1),
        (2, "bob", "Rome", "U", 1),
        (None, None, None, "T", 2),  # SCD 1: ann and bob are gone
        (1, None, "Lyon", "U", 3),  # after the truncate nothing is kept: no name
        (1, "anne", "Lyon", "U", 4),  # SCD 2: the name only, updated in place
        (1, None, "Nice", "U", 5),  # SCD 1 keeps anne
    ]
    rows = [dict(zip(["id", "name", "city", "op", "seq"], c, strict=True)) for c in changes]
    land(landing, EVENTS, "1.json", [json.dumps(row) for row in rows])
    assert run(project, "pl-users", landing, state) == 0

    latest = read_table(spark, state, "slv_users", "crm")
    assert latest.columns == ["id", "name", "city"]
    assert rows_of(latest, ["id", "name", "city"]) == [(1, "anne", "Nice")]
    history = read_table(spark, state, "slv_users_history", "crm")
    assert rows_of(history, ["id", "name", "city", "seq", "__START_AT", "__END_AT"]) == [
        (1, "ann", "Paris", 1, 1, 3),
        (1, "anne", "Lyon", 4, 3, 5),  # seq 3 kept ann, then anne in place
        (1, "anne", "Nice", 5, 5, None),  # the null name of seq 5 keeps anne
        (2, "bob", "Rome", 1, 1, None),
    ]
    # skip_change_commits: locally the CDC target's current rows (tests/test_skip_change_commits.py)
    cities = read_table(spark, state, "gld_user_cities", "crm")
    assert rows_of(cities, ["id", "city"]) == [(1, "Lyon"), (1, "Nice"), (1, "Paris"), (2, "Rome")]
