"""read_metadata of a pipeline with 500 tables of 20 columns: target <= 2x `json.loads`.

Baseline: parsing the same bytes with `json.loads` alone, so the ratio shows what
validation into models costs on top of reading the JSON. Both are read alternately, so that
they see the same machine load. `read_metadata` validates every table eagerly and a table's
columns when a notebook first uses them (`runtime/models.py`): the figure after the ratio is
what a notebook then pays to use the columns of every table.

Run: .venv/bin/python bench/bench_read_metadata.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _timing import machine, median_seconds, paired_median_seconds, report

from laktory_pulumi.gc_pause import collector_paused
from laktory_pulumi.metadata import metadata_bytes, metadata_workspace_path, read_metadata
from laktory_pulumi.models import Pipeline

TABLES = 500
COLUMNS = 20


def wide_pipeline() -> Pipeline:
    """A bronze table feeding 499 silver tables of 20 typed columns each."""
    tables = [
        {
            "name": "brz_events",
            "builder": {
                "layer": "BRONZE",
                "event_source": {"name": "event", "producer": {"name": "app"}},
            },
        }
    ]
    types = ["double", "string", "timestamp", "bigint", "decimal(18,2)"]
    for index in range(1, TABLES):
        tables.append(
            {
                "name": f"slv_table_{index:03d}",
                "timestamp_key": "c00",
                "primary_key": ["c01"],
                "builder": {"layer": "SILVER", "table_source": {"name": "brz_events"}},
                "columns": [
                    {
                        "name": f"c{column:02d}",
                        "type": types[column % len(types)],
                        "spark_func_name": "coalesce",
                        "spark_func_args": [f"data.f{column}"],
                    }
                    for column in range(COLUMNS)
                ],
                "expectations": [{"name": "has_key", "expression": "c01 IS NOT NULL"}],
            }
        )
    return Pipeline.model_validate({"name": "pl-wide", "tables": tables})


def parsed(path: Path) -> object:
    """The baseline, under the same paused collector as `read_metadata`: with the collector
    running, json.loads's 200,000 objects trigger passes over the whole heap, and the ratio
    would measure the collector."""
    with collector_paused():
        return json.loads(path.read_bytes())


def main() -> None:
    pipeline = wide_pipeline()
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / metadata_workspace_path(pipeline.name).lstrip("/")
        path.parent.mkdir(parents=True)
        path.write_bytes(metadata_bytes(pipeline))
        os.environ["LAKTORY_WORKSPACE_ROOT"] = root
        loaded = read_metadata(pipeline.name)
        assert loaded == pipeline and len(loaded.tables) == TABLES
        ours, baseline = paired_median_seconds(
            lambda: read_metadata(pipeline.name), lambda: parsed(path), repeat=15
        )
        every_column = median_seconds(
            lambda: [table.columns for table in read_metadata(pipeline.name).tables], repeat=5
        )
    size_kib = len(metadata_bytes(pipeline)) // 1024
    print(f"machine: {machine()}; {TABLES} tables x {COLUMNS} columns, {size_kib} KiB")
    report("read_metadata vs json.loads", ours, baseline, target=2.0)
    print(f"read_metadata, then every table's columns: {every_column * 1000:.1f} ms")


if __name__ == "__main__":
    main()
