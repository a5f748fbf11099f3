"""Laktory v0.0.22's `agg_expressions` items were full columns: their `comment`, `unit` and `pii`
load, with a table column's meaning (recorded in the deployed metadata)."""

from __future__ import annotations

import json
from pathlib import Path

from laktory_pulumi.loader import load_pipeline_file
from laktory_pulumi.metadata import metadata_bytes
from laktory_pulumi.schema import json_schema

PIPELINE = """\
name: pl-agg
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_gld_template.py}
tables:
  - name: brz_prices
    builder:
      layer: BRONZE
      event_source: {name: price, producer: {name: yahoo}}
  - name: gld_prices
    builder:
      layer: GOLD
      table_source: {name: brz_prices}
      aggregation:
        groupby_columns: [symbol]
        agg_expressions:
          - name: max_open
            type: double
            spark_func_name: max
            spark_func_args: [open]
            comment: Highest opening price
            unit: USD
            pii: false
          - name: traders
            sql_expression: collect_set(trader)
            pii: true
"""


def test_agg_expressions_take_a_columns_comment_unit_and_pii(tmp_path: Path) -> None:
    path = tmp_path / "pl.yaml"
    path.write_text(PIPELINE)
    pipeline = load_pipeline_file(path, {})
    aggregation = pipeline.table("gld_prices").builder.aggregation
    assert aggregation is not None
    highest, traders = aggregation.aggregates
    assert (highest.comment, highest.unit, highest.pii) == ("Highest opening price", "USD", False)
    assert (traders.comment, traders.unit, traders.pii) == (None, None, True)
    # Recorded where a column's are: the deployed metadata the notebooks and tools read.
    metadata = json.loads(metadata_bytes(pipeline))
    recorded = metadata["tables"][1]["builder"]["aggregation"]["aggregates"]
    assert (recorded[0]["comment"], recorded[0]["unit"], recorded[1]["pii"]) == (
        "Highest opening price",
        "USD",
        True,
    )


def test_the_json_schema_knows_them() -> None:
    properties = json_schema()["$defs"]["Aggregate"]["properties"]
    assert {"comment", "unit", "pii"} <= set(properties)
