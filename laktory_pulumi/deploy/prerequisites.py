"""What the workspace must hold, or must not, before `pulumi up` creates anything.

Checked by the program at `pulumi preview` with data-source lookups (invokes, which preview runs),
so that a missing catalog or a name another stack holds fails with the YAML line, instead of
failing half-way through `up` after notebooks, the wheel and clusters were created:

- each catalog a pipeline names exists (`databricks.get_catalogs`); the stack never creates one;
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
    """What the workspace holds, by listing: a lookup of one missing object would fail the
    invoke, which Pulumi reports as the program's error however the program handles it
    (`pulumi.runtime.rpc_manager`: a failed RPC is the run's unhandled exception)."""

    catalogs: Callable[[], set[str]]
    """The metastore's catalog names (`databricks.get_catalogs`, catalog/data_catalogs.go)."""
    schemas: Callable[[str], set[str]]
    """A catalog's schemas, `catalog.schema` (`databricks.get_schemas`)."""
    volumes: Callable[[str, str], set[str]]
    """A schema's volumes, `catalog.schema.volume` (`databricks.get_volumes`)."""
    pipeline_ids: Callable[[str], set[str]]
    """Pipelines whose name is LIKE the given one (`databricks.get_pipelines`,
    pipelines/data_pipelines.go: `name LIKE '<name>'`)."""
    tables: Callable[[str, str], set[str]] = lambda catalog, schema: set()
    """A schema's tables, `catalog.schema.table`, views aside (`databricks.get_tables`,
    catalog/data_tables.go); asked only for a pipeline with tagged tables (`table_tags`)."""
    table_tag_keys: Callable[[str], set[str]] = lambda table: set()
    """The tag keys assigned to a table, by its full name
    (`databricks.get_entity_tag_assignments`); asked only for a tagged table that exists."""


def provider_lookups() -> WorkspaceLookups:
    """The provider's data sources, imported here so the local side never loads the provider."""
    import pulumi_databricks as databricks

    return WorkspaceLookups(
        catalogs=lambda: set(databricks.get_catalogs().ids or ()),
        schemas=lambda catalog: set(databricks.get_schemas(catalog_name=catalog).ids or ()),
        volumes=lambda catalog, schema: set(
            databricks.get_volumes(catalog_name=catalog, schema_name=schema).ids or ()
        ),
        pipeline_ids=lambda name: set(databricks.get_pipelines(pipeline_name=name).ids or ()),
        tables=lambda catalog, schema: set(
            databricks.get_tables(catalog_name=catalog, schema_name=schema).ids or ()
        ),
        table_tag_keys=lambda table: {
            assignment.tag_key
            for assignment in databricks.get_entity_tag_assignments(
                entity_type="tables", entity_name=table
            ).tag_assignments
            or ()
        },
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
    existing = lookups.catalogs()
    for catalog in sorted({p.catalog for p in stack.pipelines.values() if p.catalog}):
        if catalog in existing:
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
        if catalog in missing_catalogs or catalog not in existing:
            continue
        schemas = lookups.schemas(catalog)
        for schema in plan.schemas.values():
            full = f"{catalog}.{schema.name}"
            if full not in schemas:
                continue  # nothing in it can exist yet
            if schema.managed and full not in previous.schemas:
                mentions = _schema_mentions(stack, catalog, schema.name)
                errors += _taken(stack, "schema", full, mentions)
            volumes = lookups.volumes(catalog, schema.name) if schema.volumes else set()
            for volume in sorted(schema.volumes):
                path = f"{full}.{volume}"
                if path in volumes and path not in previous.volumes:
                    errors += _taken(stack, "volume", path, _volume_mentions(stack, path))
    for name, pipeline in sorted(stack.pipelines.items()):
        if pipeline.allow_duplicate_names:
            continue
        display = f"{name_prefix}{name}"
        others = lookups.pipeline_ids(display) - set(previous.pipeline_ids.values())
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
