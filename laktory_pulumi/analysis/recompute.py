"""What DLT recomputes in full, or local runs read otherwise: `validate` notes them.

A gold table aggregating a streamed source without watermark is valid in DLT: every group stays
in the stream's state and the whole table is rewritten at each update (complete output mode;
`TableBuilder.recomputes_whole`). It runs, locally as a materialized view, but never
incrementally, so `validate` says so where the aggregation is declared. A CDC target streamed
with `skip_change_commits` is read whole by local runs, where the CDC target is a materialized
view (`runtime.dlt_sdp`), so a local run gives its current rows where Databricks streams the
rows of its commits that only add rows. No Spark is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..loader.errors import LocatedError
from .located import FieldPath, located_in_stack

if TYPE_CHECKING:
    from ..loader.stack import Stack
    from ..models import Pipeline


def recomputed_aggregations(pipeline: Pipeline) -> list[tuple[FieldPath, str]]:
    """(path, message) of each aggregation of a stream without watermark."""
    return [
        (
            ("tables", index, "builder", "aggregation"),
            f"table {table.name} aggregates a stream without watermark: DLT keeps every group "
            "and rewrites the whole table at each update (complete output mode), and local runs "
            "compute it as a materialized view; add builder.table_source.watermark to aggregate "
            "incrementally, or read the source whole (read_as_stream: false) to say so",
        )
        for index, table in enumerate(pipeline.tables)
        if table.builder.recomputes_whole
    ]


def skipped_changes_read_whole(pipeline: Pipeline) -> list[tuple[FieldPath, str]]:
    """(path, message) of each stream of a pipeline table with `skip_change_commits`."""
    found: list[tuple[FieldPath, str]] = []
    for index, table in enumerate(pipeline.tables):
        for path, source in table.builder.located_table_sources():
            if not source.skip_change_commits or source.is_external:
                continue
            found.append(
                (
                    ("tables", index, *path, "skip_change_commits"),
                    f"table {table.name} streams {source.name} skipping its change commits: "
                    "Databricks reads the rows of its commits that only add rows; a local run, "
                    "where a CDC target is recomputed, reads its current rows whole",
                )
            )
    return found


def full_recompute_notices(stack: Stack, project: Path) -> list[LocatedError]:
    """The notices of every pipeline of the stack, located in their files."""

    def notices_of(pipeline: Pipeline) -> list[tuple[FieldPath, str]]:
        return recomputed_aggregations(pipeline) + skipped_changes_read_whole(pipeline)

    return sorted(located_in_stack(stack, project, notices_of))
