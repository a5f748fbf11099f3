"""Tables an update would drop, refused on a protected stack unless the YAML lets them go.

`protect` keeps Pulumi from deleting the pipeline, but a table removed (or renamed) in the YAML
is dropped by the pipeline's next update: DLT drops a materialized view or streaming table whose
definition left the pipeline (DLT release notes 2024.49), and `pulumi up` only updated the
pipeline. The last deployment's record (`deploy.deployed`) says which tables each pipeline had.
"""

from __future__ import annotations

from ..loader import LocatedError, Stack
from .deployed import Deployment


def dropped_tables(
    stack: Stack, previous: Deployment, *, protect: bool
) -> tuple[list[LocatedError], list[LocatedError]]:
    """(errors, notices): on a protected stack each drop the YAML does not allow is an error;
    every drop is named in a notice, so a preview lists what a change would delete."""
    errors: list[LocatedError] = []
    notices: list[LocatedError] = []
    for name, pipeline in sorted(stack.pipelines.items()):
        gone = sorted(set(previous.tables.get(name, ())) - {t.name for t in pipeline.tables})
        if not gone:
            continue
        allowed = set(pipeline.allow_dropping_tables)
        refused = [table for table in gone if table not in allowed]
        where = f"{pipeline.catalog}.{pipeline.target}." if pipeline.catalog else ""
        listed = ", ".join(f"{where}{table}" for table in gone)
        notices.append(
            stack.locate(
                "pipeline",
                name,
                ("tables",),
                f"this update drops table(s) {listed} with their data (removed from the YAML)",
            )
        )
        if protect and refused:
            errors.append(
                stack.locate(
                    "pipeline",
                    name,
                    ("tables",),
                    f"the stack is protected and this update would drop {', '.join(refused)} "
                    "(DLT drops a table its pipeline no longer defines): restore the table, or "
                    "list it under allow_dropping_tables",
                )
            )
    for name in sorted(set(previous.tables) - set(stack.pipelines)):
        # Deleting the pipeline deletes its tables; `protect` makes `pulumi up` refuse it.
        tables = ", ".join(previous.tables[name]) or "none"
        guard = " (the stack is protected: pulumi up refuses it)" if protect else ""
        notices.append(
            LocatedError(
                f"Pulumi.{stack.config.stack}.yaml",
                1,
                1,
                "pipelines",
                f"pipeline {name} is no longer deployed: deleting it drops its tables "
                f"({tables}){guard}",
            )
        )
    return errors, notices
