"""Full-refresh selection and deleted-storage detection of local runs (issue #24, cases 11 and
12), without Spark; the runs themselves are in `test_baddata2_pipeline.py`."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_local_support import REPO

from laktory_pulumi.loader import load_stack
from laktory_pulumi.local.layout import StateLayout
from laktory_pulumi.local.runner import _driver_command, full_refresh_selection, lost_storage
from laktory_pulumi.models import Pipeline

PIPELINE = "pl-stock-prices"


@pytest.fixture(scope="module")
def stock() -> Pipeline:
    return load_stack(REPO, "dev", only=[PIPELINE]).pipelines[PIPELINE]


def test_a_full_refresh_of_silver_rebuilds_its_readers_and_leaves_bronze(stock: Pipeline) -> None:
    # Before: bronze was refreshed too, and lost the rows whose files retention had removed.
    assert full_refresh_selection(stock, ["slv_stock_prices"]) == [
        "slv_stock_prices",
        "slv_stock_prices_quarantine",
        "slv_star_stock_prices",
        "gld_stock_performances",
    ]
    assert full_refresh_selection(stock, ["brz_stock_prices", "slv_stock_prices"])[:3] == [
        "brz_stock_prices",
        "slv_stock_prices",
        "slv_stock_prices_quarantine",
    ]


def test_the_driver_refreshes_in_full_only_what_the_selection_names(
    stock: Pipeline, tmp_path: Path
) -> None:
    layout = StateLayout.at(tmp_path)
    tables = ["brz_stock_prices", "slv_stock_prices", "slv_stock_prices_quarantine"]
    reset = ["slv_stock_prices", "slv_stock_prices_quarantine"]
    command = _driver_command(layout, stock, tmp_path, True, tables, "sc://h:1", reset=reset)
    assert command[command.index("--full-refresh") + 1] == ",".join(reset)
    assert command[command.index("--refresh") + 1] == "brz_stock_prices"
    plain = _driver_command(layout, stock, tmp_path, False, tables, "sc://h:1")
    assert "--full-refresh" not in plain and plain[plain.index("--refresh") + 1] == ",".join(tables)
    everything = _driver_command(layout, stock, tmp_path, True, [], "sc://h:1")
    assert "--full-refresh-all" in everything


def test_a_streaming_table_whose_stored_data_was_deleted_is_found(
    stock: Pipeline, tmp_path: Path
) -> None:
    layout = StateLayout.at(tmp_path)
    checkpoint = layout.storage / "_checkpoints" / "spark_catalog" / "finance"
    table = layout.warehouse / "finance.db" / "brz_stock_prices"

    def commit(dataset: str) -> None:
        commits = checkpoint / dataset / dataset / "0" / "commits"
        commits.mkdir(parents=True, exist_ok=True)
        (commits / "0").write_text("v1")

    # A stream that never had data has a checkpoint but no table: nothing is lost.
    (checkpoint / "brz_stock_prices" / "brz_stock_prices" / "0").mkdir(parents=True)
    assert lost_storage(stock, layout) == []
    commit("brz_stock_prices")
    assert lost_storage(stock, layout) == ["brz_stock_prices"]  # the folder was deleted
    (table / "_spark_metadata").mkdir(parents=True)
    (table / "_spark_metadata" / "3").write_text("v1")
    # Written again after the deletion: the log lacks its first batches, later reads fail.
    assert lost_storage(stock, layout) == ["brz_stock_prices"]
    (table / "_spark_metadata" / "0").write_text("v1")
    assert lost_storage(stock, layout) == []
    (table / "_spark_metadata" / "0").unlink()
    (table / "_spark_metadata" / "9.compact").write_text("v1")  # a compacted log
    assert lost_storage(stock, layout) == []
