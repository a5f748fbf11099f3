"""Every table, column and expectation keeps the `file:line:column` it is declared at.

The loader sets `defined_at`; the metadata file carries it, so a failure at run time can name
the YAML line; users do not write it, and the JSON Schema does not offer it.
"""

from __future__ import annotations

import json
from pathlib import Path

from laktory_pulumi.loader import load_stack
from laktory_pulumi.metadata import metadata_bytes
from laktory_pulumi.models import Pipeline
from laktory_pulumi.schema import schema_text

REPO = Path(__file__).resolve().parent.parent
FILE = "stacks/pipelines/pl-stock-prices.yaml"


def stock() -> Pipeline:
    return load_stack(REPO, "dev").pipelines["pl-stock-prices"]


def at(text: str, after: str = "") -> str:
    """`file:line:column` of the first line of the stock file starting with `text` (stripped),
    after the line holding `after`: the file changes, the lines are found, not hard-coded."""
    lines = (REPO / FILE).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    for number, line in enumerate(lines[start:], start + 1):
        if line.strip().startswith(text):
            # The position of the mapping: its first key, after the list's `- `.
            return f"{FILE}:{number}:{len(line) - len(line.lstrip()) + 3}"
    raise AssertionError(f"no line {text!r} in {FILE}")


def test_tables_columns_and_expectations_keep_where_they_are_declared() -> None:
    pipeline = stock()
    bronze, silver = pipeline.table("brz_stock_prices"), pipeline.table("slv_stock_prices")
    assert bronze.defined_at == at("- name: brz_stock_prices")
    assert silver.defined_at == at("- name: slv_stock_prices")
    assert silver.columns[0].defined_at == at("- name: created_at", after="name: slv_stock_prices")
    assert silver.expectations[0].defined_at == at("- name: known_symbol")


def test_the_metadata_carries_defined_at_and_reads_it_back() -> None:
    pipeline = stock()
    data = json.loads(metadata_bytes(pipeline))
    (silver,) = (table for table in data["tables"] if table["name"] == "slv_stock_prices")
    assert silver["defined_at"] == at("- name: slv_stock_prices")
    assert silver["columns"][0]["defined_at"] == at(
        "- name: created_at", after="name: slv_stock_prices"
    )
    again = Pipeline.model_validate_json(metadata_bytes(pipeline))
    assert again.table("slv_stock_prices").expectations[0].defined_at == at("- name: known_symbol")


def test_the_schema_users_write_against_does_not_offer_defined_at() -> None:
    assert "defined_at" not in schema_text("pipeline")


def test_where_a_table_is_declared_is_not_part_of_what_it_is() -> None:
    table = stock().table("slv_stock_prices")
    moved = table.model_copy(update={"defined_at": "elsewhere.yaml:1:1"})
    assert moved == table
    assert moved != table.model_copy(update={"comment": "other"})
