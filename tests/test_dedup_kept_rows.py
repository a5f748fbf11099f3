"""Batch deduplication keeps the first row of each key whole: its values, `_source_file`
(NULL included) and `_rescued_data` (a failed cast's JSON, or the text the row came with).

`runtime/deduplication.py` plans a batch read's deduplication for speed (partitioned on the
key, sorted on its fixed-width columns first); whatever plan it picks, the kept row of a key is
the first of that key in the input, with every column of that same row. Duplicates here differ
in every carried column, so keeping another row, or mixing two rows' values, or losing a text
column on the way (a code carried in place of the text, a rescue rebuilt) changes the result.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_dedup_batch_plan import _silver

from laktory_pulumi.runtime import process

# (symbol, created_at, open as landed, the reader's rescued text, the landed file)
BRONZE = [
    ("AAPL", "2024-04-10 13:30:00", "1.5", None, "a.json"),  # kept
    ("AAPL", "2024-04-10 13:30:00", "9.9", None, "b.json"),
    ("AAPL", "2024-04-10 14:30:00", "n/a", '{"x":1}', None),  # kept: failed cast, no file
    ("AAPL", "2024-04-10 14:30:00", "2.5", None, "c.json"),
    ("MSFT", "2024-04-10 13:30:00", "3.5", "bad line", "d.json"),  # kept: its text unchanged
    ("MSFT", "2024-04-10 13:30:00", "n/a", None, "e.json"),
    ("MSFT", "2024-04-10 14:30:00", "4.5", None, None),  # kept: alone
    ("TSLA", "2024-04-10 13:30:00", "n/a", None, "f.json"),  # kept: failed cast
    ("TSLA", "2024-04-10 13:30:00", "5.5", "later", "g.json"),
]

EXPECTED = [
    ("AAPL", "2024-04-10 13:30:00", 1.5, None, "a.json"),
    ("AAPL", "2024-04-10 14:30:00", None, '{"open":"n/a","_rescued_data":"{\\"x\\":1}"}', None),
    ("MSFT", "2024-04-10 13:30:00", 3.5, "bad line", "d.json"),
    ("MSFT", "2024-04-10 14:30:00", 4.5, None, None),
    ("TSLA", "2024-04-10 13:30:00", None, '{"open":"n/a"}', "f.json"),
]


@pytest.mark.spark
def test_batch_deduplication_keeps_each_keys_first_row_whole(spark: Any) -> None:
    bronze = (
        spark.createDataFrame(
            BRONZE,
            "symbol string, created_at string, open string, _rescued_data string, "
            "_source_file string",
        )
        .coalesce(1)  # one input partition: "first" is the list's order
        .selectExpr(
            "named_struct('symbol', symbol, 'created_at', created_at, 'open', open) AS data",
            "_rescued_data",
            "_source_file",
            "current_timestamp() AS _bronze_at",
        )
    )
    frame = process(_silver(read_as_stream=False), bronze)
    assert frame.columns == [
        "symbol", "created_at", "open", "_rescued_data", "_bronze_at", "_source_file",
        "_silver_at",
    ]  # fmt: skip
    rows = sorted(
        (row.symbol, str(row.created_at), row.open, row._rescued_data, row._source_file)
        for row in frame.collect()
    )
    assert rows == EXPECTED
