"""What this stack deployed last time, read back from its own outputs.

The program exports a record (`DEPLOYED_OUTPUT`): the tables of each pipeline, the pipelines'
ids, the schemas and volumes it created. On the next run it reads that record through a
`pulumi.StackReference` to its own stack (the last successful update's outputs; a stack
never deployed has none), which `pulumi preview` resolves as `up` does. It tells:

- which tables an update would drop: DLT drops a table its pipeline no longer defines
  ("Deletion of a materialized view or streaming table can occur when you remove the
  definition ... from a pipeline", DLT release notes 2024.49), which `protect` cannot see, since
  the pipeline itself is only updated;
- which schemas, volumes and pipeline ids are this stack's own, so that an existing object of
  the same name that is not is refused (`deploy.prerequisites`); which table tags it assigned
  (`deploy.table_tags`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

DEPLOYED_OUTPUT = "deployed"


@dataclass(frozen=True)
class Deployment:
    """The last deployment's record; empty for a stack never deployed (or deployed before
    the record existed, `known` False: nothing can be told dropped or foreign then)."""

    known: bool = False
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Table names by pipeline name."""
    pipeline_ids: Mapping[str, str] = field(default_factory=dict)
    schemas: frozenset[str] = frozenset()
    volumes: frozenset[str] = frozenset()
    table_tags: frozenset[str] = frozenset()
    """The tags it assigned, `catalog.schema.table/key` (`deploy.table_tags`)."""

    @classmethod
    def of(cls, record: Any) -> Deployment:
        if not isinstance(record, Mapping):
            return cls()
        tables = record.get("tables") or {}
        return cls(
            known=True,
            tables={name: tuple(names) for name, names in tables.items()},
            pipeline_ids={
                name: str(value) for name, value in (record.get("pipeline_ids") or {}).items()
            },
            schemas=frozenset(record.get("schemas") or ()),
            volumes=frozenset(record.get("volumes") or ()),
            table_tags=frozenset(record.get("table_tags") or ()),
        )


PreviousLookup = Callable[[], Deployment]


def own_stack_outputs() -> Deployment:
    """The record of this stack's last update, through a StackReference to itself."""
    # What the Python SDK's synchronous invokes use to wait for an RPC inside the program.
    from pulumi.runtime.sync_await import _sync_await

    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    reference = pulumi.StackReference(f"{name}/{DEPLOYED_OUTPUT}", stack_name=name)
    details = _sync_await(reference.get_output_details(DEPLOYED_OUTPUT))
    record = details.value if details.value is not None else details.secret_value
    return Deployment.of(record)
