"""`laktory-pulumi demo`: the README's first command, on a fresh folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from test_local_support import REPO, STOCK_DATABASE, read_table, run_state

from laktory_pulumi.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def test_demo_runs_the_stock_pipeline_then_prints_the_plan(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--workdir", str(tmp_path), "--project", str(REPO)]) == 0

    printed = capsys.readouterr().out
    summary_at = printed.index("pl-stock-prices: completed")
    plan_at = printed.index("What `pulumi up --stack dev` would create")
    assert summary_at < plan_at
    # The plan is the dev stack's resource tree, with the pipeline component in it.
    assert "laktory:databricks:Pipeline" in printed[plan_at:]
    state = tmp_path / "state"
    assert run_state(state).tables["brz_stock_prices"].rows_written == 7012
    assert read_table(spark, state, "slv_stock_prices", STOCK_DATABASE).count() == 7012
