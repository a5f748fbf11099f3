"""Sources that would fail a fresh deploy's first update: `validate` notes them.

A new landing volume is empty. An event source without `schema_ddl` or `schema_hints` has its
schema inferred from the files it reads, and with no file there is nothing to infer from:
Auto Loader fails the
update (Databricks error class CF_EMPTY_DIR_FOR_SCHEMA_INFERENCE, "Cannot infer schema when the
input path is empty"), and so does the local run. Declaring the schema, or hinting the columns
the pipeline reads (the first update then reads them as the schema, `runtime.readers`), lets
the first update run and write empty tables. No Spark is needed to say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..loader.errors import LocatedError
from .located import FieldPath, located_in_stack

if TYPE_CHECKING:
    from ..loader.stack import Stack
    from ..models import Pipeline


def inferred_sources(pipeline: Pipeline) -> list[tuple[FieldPath, str]]:
    """(path, message) of each event source whose schema must be inferred from landed files."""
    found: list[tuple[FieldPath, str]] = []
    for index, table in enumerate(pipeline.tables):
        for path, source in table.builder.located_event_sources():
            if source.declares_columns or source.is_stream:
                continue  # a stream's value is parsed by its schema_ddl, or kept unparsed
            found.append(
                (
                    ("tables", index, *path),
                    f"table {table.name} infers its events' schema from the files landed in "
                    f"{source.name}: on an empty landing folder (a fresh deploy) its first "
                    "update fails (CF_EMPTY_DIR_FOR_SCHEMA_INFERENCE); declare schema_hints (the "
                    "columns the pipeline reads; later fields still become columns) or "
                    "schema_ddl (strict) to run it before events land",
                )
            )
    return found


def empty_landing_notices(stack: Stack, project: Path) -> list[LocatedError]:
    """The notices of every pipeline of the stack, located in their files."""
    return sorted(located_in_stack(stack, project, inferred_sources))
