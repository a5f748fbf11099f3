"""Static `data` rows keep their text and never fail a pipeline (issue #24, cases 15 and 16).

YAML 1.1 (PyYAML's) reads `NO` (Norway) and `ON` (Ontario) as booleans; the rows are read with
YAML 1.2's scalars (https://yaml.org/spec/1.2.2/, 10.3.2 "Tag Resolution") and typed by their
declared column. A value that does not cast is rescued as other casts are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from test_local_support import make_project

from laktory_pulumi.loader import load_stack
from laktory_pulumi.runtime.static import static_rows

PIPELINE = """\
name: pl-static
target: ref
libraries:
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: slv_regions
    builder:
      layer: SILVER
    columns:
      - {name: code, type: string}
      - {name: rate, type: double}
      - {name: rank, type: int}
    data:
      - [NO, 1.5, 0755]
      - [ON, "1,08", 2]
      - [yes, "2.5", 3]
      - ["DE", 4, 4]
"""


def _table(tmp_path: Path):  # type: ignore[no-untyped-def]
    project = make_project(tmp_path / "project", PIPELINE, "pl-static")
    return (
        load_stack(project, "dev", only=["pl-static"]).pipelines["pl-static"].table("slv_regions")
    )


def test_static_text_is_read_with_yaml_1_2_scalars(tmp_path: Path) -> None:
    table = _table(tmp_path)
    # Before: [False, True, True, 'DE'] and 493 (octal 0755).
    assert [row[0] for row in table.data] == ["NO", "ON", "yes", "DE"]
    assert table.data[0][2] == 755


@pytest.mark.spark
def test_a_value_that_does_not_cast_is_rescued_not_failing_the_pipeline(
    spark: SparkSession, tmp_path: Path
) -> None:
    rows = static_rows(_table(tmp_path), spark).collect()
    # Before: "1,08" failed the whole pipeline with CAST_INVALID_INPUT and no line.
    assert [(row.code, row.rate, row.rank) for row in rows] == [
        ("NO", 1.5, 755),
        ("ON", None, 2),
        ("yes", 2.5, 3),
        ("DE", 4.0, 4),
    ]
    assert [row._rescued_data and json.loads(row._rescued_data) for row in rows] == [
        None,
        {"rate": "1,08"},
        None,
        None,
    ]
