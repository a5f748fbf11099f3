"""Quarantine on a bronze table (issue #12): failing events go to `<table>_quarantine`, each with
its `_source_file` and the rules it failed, while the other events flow on to bronze and silver.

Gold tables and CDC tables still refuse quarantine at its line (no template builds one there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_local_support import (
    STOCK_EVENTS,
    bronze_silver_yaml,
    land,
    make_project,
    read_table,
    run,
    run_state,
    stock_lines,
)

from laktory_pulumi.loader import LoadError, load_pipeline_file
from laktory_pulumi.local.engine import stop_engine
from laktory_pulumi.local.layout import StateLayout

INVALID = Path(__file__).parent / "data" / "invalid"
BRONZE_RULES = """\
    quarantine: true
    expectations:
      - {name: has_symbol, expression: data.symbol IS NOT NULL, action: DROP}
      - {name: has_close, expression: data.close IS NOT NULL, action: WARN}
"""


def _pipeline_text() -> str:
    text = bronze_silver_yaml(
        "pl-brzq", "brzq", "{name: known, expression: symbol IS NOT NULL, action: DROP}"
    )
    anchor = "      event_source: {name: stock_price, producer: {name: yahoo-finance}}\n"
    assert anchor in text
    return text.replace(anchor, anchor + BRONZE_RULES)


def test_quarantine_on_a_bronze_table_loads(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(_pipeline_text())
    pipeline = load_pipeline_file(path, {})
    assert pipeline.tables[0].generated_datasets[0][0] == "brz_prices_quarantine"


def test_quarantine_on_a_gold_table_is_refused() -> None:
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(INVALID / "quarantine_on_gold.yaml", {})
    (error,) = caught.value.errors
    assert (error.line, error.field) == (13, "tables[0].quarantine")
    assert "only BRONZE and SILVER tables get a quarantine table" in error.message


@pytest.mark.slow
@pytest.mark.spark
def test_failing_events_go_to_the_bronze_quarantine_with_their_file(
    spark: Any, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project", _pipeline_text(), "pl-brzq")
    landing, state = tmp_path / "landing", tmp_path / "state"
    lines = stock_lines()[:7]
    orphan = json.loads(lines[0])
    del orphan["data"]["symbol"]
    land(landing, STOCK_EVENTS, "good.json", lines[:6])
    land(landing, STOCK_EVENTS, "bad.json", [json.dumps(orphan), lines[6]])
    try:
        assert run(project, "pl-brzq", landing, state) == 0
    finally:
        stop_engine(StateLayout.at(state))

    quarantine = read_table(spark, state, "brz_prices_quarantine", "brzq")
    (row,) = quarantine.collect()
    assert row["_source_file"].endswith("bad.json")
    assert row["_failed_expectations"] == ["has_symbol"]
    # The other events flow on, the bad file's good event included.
    assert read_table(spark, state, "brz_prices", "brzq").count() == 7
    assert read_table(spark, state, "slv_prices", "brzq").count() == 7
    report = run_state(state).tables
    assert report["brz_prices"].quarantined == 1
    assert report["brz_prices_quarantine"].rows_total == 1
