"""What the workspace must hold, or must not, before `pulumi up` creates anything.

Checked by the program at `pulumi preview` with data-source lookups (invokes, which preview runs),
so that a missing catalog or a name another stack holds fails with the YAML line, instead of
failing half-way through `up` after notebooks, the wheel and clusters were created:

- each catalog a pipeline names exists (`databricks.get_catalog`); the stack never creates one;
- each schema and volume the stack would create is absent, or this stack created it (the last
  deployment's record, `deploy.deployed`): Unity Catalog refuses to create an object that
  exists ("already exists"), and adopting another stack's schema would make this stack delete
  it on destroy;
- each pipeline name is free in the workspace, or held by this stack's own pipeline: DLT
  refuses a second pipeline of one name unless `allow_duplicate_names`.

Lookups are passed in (`WorkspaceLookups`) so tests mock the workspace, as Pulumi's mocks do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..loader import LocatedError, Stack
from .catalog_plan import CatalogPlan, landing_volume
from .deployed import Deployment


@dataclass(frozen=True)
class WorkspaceLookups:
    """Each returns whether the named object exists (pipelines: their ids)."""

    catalog_exists: Callable[[str], bool]
    schema_exists: Callable[[str], bool]
    volume_exists: Callable[[str], bool]
    pipeline_ids: Callable[[str], list[str]]


def _found(lookup: Callable[[], Any]) -> bool:
    # The provider's data sources fail when the object is not found (or not visible to the
    # deploying identity, which then could not use it either).
    try:
        return bool(getattr(lookup(), "id", None))
    except Exception:
        return False


def provider_lookups() -> WorkspaceLookups:
    """The provider's data sources, imported here so the local side never loads the provider."""
    import pulumi_databricks as databricks

    def pipeline_ids(name: str) -> list[str]:
        return list(databricks.get_pipelines(pipeline_name=name).ids or [])

    return WorkspaceLookups(
        catalog_exists=lambda name: _found(lambda: databricks.get_catalog(name=name)),
        schema_exists=lambda name: _found(lambda: databricks.get_schema(name=name)),
        volume_exists=lambda name: _found(lambda: databricks.get_volume(name=name)),
        pipeline_ids=pipeline_ids,
    )


def workspace_problems(
    stack: Stack,
    plans: dict[str, CatalogPlan],
    lookups: WorkspaceLookups,
    previous: Deployment,
    *,
    name_prefix: str,
) -> list[LocatedError]:
    """A located error for each missing catalog and each name another owner holds."""
    errors: list[LocatedError] = []
    missing_catalogs: set[str] = set()
    for catalog in sorted({p.catalog for p in stack.pipelines.values() if p.catalog}):
        if lookups.catalog_exists(catalog):
            continue
        missing_catalogs.add(catalog)
        for name, pipeline in sorted(stack.pipelines.items()):
            if pipeline.catalog == catalog:
                errors.append(
                    stack.locate(
                        "pipeline",
                        name,
                        ("catalog",),
                        f"catalog '{catalog}' is not in the metastore (or the deploying "
                        "identity cannot use it); the stack does not create catalogs: ask an "
                        "admin to create it, or set another",
                    )
                )
    for catalog, plan in plans.items():
        if catalog in missing_catalogs:
            continue
        for schema in plan.schemas.values():
            full = f"{catalog}.{schema.name}"
            if schema.managed and full not in previous.schemas and lookups.schema_exists(full):
                errors += _taken(
                    stack, "schema", full, _schema_mentions(stack, catalog, schema.name)
                )
            for volume in sorted(schema.volumes):
                path = f"{full}.{volume}"
                if path not in previous.volumes and lookups.volume_exists(path):
                    errors += _taken(stack, "volume", path, _volume_mentions(stack, path))
    for name, pipeline in sorted(stack.pipelines.items()):
        if pipeline.allow_duplicate_names:
            continue
        display = f"{name_prefix}{name}"
        others = set(lookups.pipeline_ids(display)) - set(previous.pipeline_ids.values())
        if others:
            errors.append(
                stack.locate(
                    "pipeline",
                    name,
                    ("name",),
                    f"a pipeline named '{display}' already exists in the workspace "
                    f"(id {', '.join(sorted(others))}) and this stack did not create it; "
                    "rename it, or give this stack its own name_prefix",
                )
            )
    return errors


def _schema_mentions(stack: Stack, catalog: str, schema: str) -> list[tuple[str, Any]]:
    return [
        (name, ("target",))
        for name, p in sorted(stack.pipelines.items())
        if p.catalog == catalog and p.target == schema and p.manage_schema
    ] + [
        (name, ("configuration", "landing_root"))
        for name, p in sorted(stack.pipelines.items())
        if (volume := landing_volume(p)) is not None
        and p.manage_landing_volume
        and volume[:2] == (catalog, schema)
    ]


def _volume_mentions(stack: Stack, path: str) -> list[tuple[str, Any]]:
    return [
        (name, ("configuration", "landing_root"))
        for name, p in sorted(stack.pipelines.items())
        if (volume := landing_volume(p)) is not None
        and p.manage_landing_volume
        and ".".join(volume) == path
    ]


def _taken(
    stack: Stack, kind: str, full_name: str, mentions: list[tuple[str, Any]]
) -> list[LocatedError]:
    message = (
        f"{kind} '{full_name}' already exists and this stack did not create it (another "
        "stack's, or made by hand): a stack per developer sets its own names in its stack "
        "file (docs/deploy.md, 'A stack per developer'); if it is managed elsewhere, set "
        + ("manage_schema: false" if kind == "schema" else "manage_landing_volume: false")
    )
    return [stack.locate("pipeline", name, path, message) for name, path in mentions]
