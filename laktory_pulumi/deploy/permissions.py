"""Access control lists from the models' permission entries.

A `databricks.Permissions` resource owns the whole access list of one object, so there is one
per object (never one per principal, which would fight over the same list). Entries are sorted
by principal: reordering the YAML then changes no input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi_databricks as databricks

from ..models.permission import Principal

# Notebooks, the metadata file and the wheel are read by the pipeline's users, never edited.
READ_ONLY = "CAN_READ"


def access_controls(
    entries: Sequence[Principal],
    level: str | None = None,
    *,
    levels: Mapping[str, str] | None = None,
) -> list[databricks.PermissionsAccessControlArgs]:
    """One entry per principal, sorted; `level` replaces each entry's own level when given,
    `levels` maps each entry's level to another object's (a pipeline's to its job's)."""
    ordered = sorted(entries, key=lambda entry: (entry.principal, entry.principal_kind))
    controls = []
    for entry in ordered:
        own: str = entry.permission_level  # type: ignore[attr-defined]
        controls.append(
            databricks.PermissionsAccessControlArgs(
                **{entry.principal_kind: entry.principal},
                permission_level=level or (levels[own] if levels else own),
            )
        )
    return controls
