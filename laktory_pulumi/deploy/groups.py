"""Every group the YAML names must exist in the workspace, checked before anything is created.

A permission or grant naming a missing group fails half-way through `pulumi up`, after other
resources were created. So the program looks each group up with `databricks.get_group` first
(an invoke, which `pulumi preview` runs too), and a group that is not found is a located error
at each line naming it.

Only `users` is not looked up: the workspace's system group of all its users exists in every
workspace. `admins` is refused by validation wherever it is named (an access control list or a
grant, `models.permission`), and `account users` is looked up like any other group: it is the
account's group, present in a workspace only once identity federation adds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..loader import LocatedError, Stack

BUILT_IN_GROUPS = frozenset({"users"})

GroupLookup = Callable[[str], Any]
"""Looks a group up by display name; returns something with an `id`, or raises."""

Where = tuple[str, str, tuple[str | int, ...]]
"""(definition kind, definition name, field path) of one mention of a group."""


def named_groups(stack: Stack) -> dict[str, list[Where]]:
    """Every group of the stack's permissions and readers, with where it is named."""
    found: dict[str, list[Where]] = {}

    def note(kind: str, name: str, field: str, entries: list[Any]) -> None:
        for index, entry in enumerate(entries):
            if entry.group_name is not None:
                found.setdefault(entry.group_name, []).append(
                    (kind, name, (field, index, "group_name"))
                )

    for name, pipeline in stack.pipelines.items():
        note("pipeline", name, "permissions", pipeline.permissions)
        note("pipeline", name, "readers", pipeline.readers)
        note(
            "pipeline", name, "authoritative_catalog_grants", pipeline.authoritative_catalog_grants
        )
    for name, cluster in stack.clusters.items():
        note("cluster", name, "permissions", cluster.permissions)
    return found


def missing_groups(stack: Stack, lookup: GroupLookup) -> list[LocatedError]:
    """A located error for each mention of a group `lookup` does not find."""
    errors: list[LocatedError] = []
    for group, mentions in sorted(named_groups(stack).items()):
        if group in BUILT_IN_GROUPS:
            continue
        try:
            found = lookup(group)
            reason = "" if getattr(found, "id", None) else "no such group"
        except Exception as error:  # the provider reports a missing group as an error
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "not found"
        if reason:
            for kind, name, path in mentions:
                errors.append(
                    stack.locate(
                        kind,
                        name,
                        path,
                        f"group '{group}' is not in the workspace ({reason}); create it or "
                        "fix the name",
                    )
                )
    return errors


def lookup_group(display_name: str) -> Any:
    """`databricks.get_group`, imported here so the local side never loads the provider."""
    import pulumi_databricks as databricks

    return databricks.get_group(display_name=display_name)
