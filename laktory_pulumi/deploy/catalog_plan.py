"""Which Unity Catalog objects the stack's pipelines need, merged across pipelines.

Several pipelines often publish to one schema or land events in one volume; each object must be
created once, so the plan is made for the whole stack, per catalog:

- the `target` schema of every pipeline with a `catalog` (unless `manage_schema: false`);
- the landing volume `/Volumes/<catalog>/<schema>/<volume>` that `configuration.landing_root`
  names, and its schema, when a table reads landed events without its own `events_root`
  (unless `manage_landing_volume: false`);
- the readers of each target schema: USE SCHEMA and SELECT on the schema, when the stack
  creates it. Unity Catalog needs USE CATALOG too to query a table (docs.databricks.com, "Unity
  Catalog privileges and securable objects"), but the catalog is not the stack's: a
  `databricks.Grant` is authoritative for its principal on its securable ("will OVERWRITE any
  existing grants for the principal", terraform-provider-databricks docs/resources/grant.md
  line 12), so granting there would take away what the principal had, and destroying would
  revoke it all. So the stack grants only on what it creates, and `reader_notices` tells the
  catalog's admins what to grant; `authoritative_catalog_grants` opts in to grants on the
  catalog, each the principal's complete list there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..loader import LocatedError, Stack
from ..models import Pipeline
from ..models.permission import CatalogGrant, Principal

LANDING_ROOT_KEY = "landing_root"
_VOLUME_PATH = re.compile(r"^/Volumes/([^/]+)/([^/]+)/([^/]+)(?:/.*)?$")


@dataclass
class SchemaPlan:
    """One schema of a catalog: created here or not, its volumes, its readers."""

    name: str
    managed: bool = False
    volumes: set[str] = field(default_factory=set)
    readers: dict[str, Principal] = field(default_factory=dict)
    """By principal name: one grant each, whichever pipelines name them."""


@dataclass
class CatalogPlan:
    """The schemas of one catalog the stack creates or grants on."""

    name: str
    schemas: dict[str, SchemaPlan] = field(default_factory=dict)
    authoritative: dict[str, CatalogGrant] = field(default_factory=dict)
    """The opt-in catalog grants, by principal: each its complete privilege list."""

    def schema(self, name: str) -> SchemaPlan:
        return self.schemas.setdefault(name, SchemaPlan(name))


def landing_volume(pipeline: Pipeline) -> tuple[str, str, str] | None:
    """(catalog, schema, volume) of the landing root, when the pipeline reads landed events
    from it and the root is a Unity Catalog volume path.

    Every event source counts, one (`event_source`) or several (`event_sources`), unless it
    reads its own `events_root` or a stream (Kafka, Event Hubs, Kinesis: no files land)."""
    reads_landing = any(
        not source.is_stream and source.events_root is None
        for table in pipeline.tables
        for _, source in table.builder.located_event_sources()
    )
    match = _VOLUME_PATH.match(pipeline.configuration.get(LANDING_ROOT_KEY, ""))
    if not reads_landing or match is None:
        return None
    return match.group(1), match.group(2), match.group(3)


def catalog_plans(pipelines: Iterable[Pipeline]) -> dict[str, CatalogPlan]:
    """The Unity Catalog objects of `pipelines`, by catalog name (sorted)."""
    plans: dict[str, CatalogPlan] = {}
    for pipeline in pipelines:
        if pipeline.catalog is not None and pipeline.target is not None:
            catalog = plans.setdefault(pipeline.catalog, CatalogPlan(pipeline.catalog))
            schema = catalog.schema(pipeline.target)
            schema.managed |= pipeline.manage_schema
            for reader in pipeline.readers:
                schema.readers.setdefault(reader.principal, reader)
        if pipeline.catalog is not None:
            catalog = plans.setdefault(pipeline.catalog, CatalogPlan(pipeline.catalog))
            for grant in pipeline.authoritative_catalog_grants:
                catalog.authoritative.setdefault(grant.principal, grant)
        volume = landing_volume(pipeline) if pipeline.manage_landing_volume else None
        if volume is not None:
            catalog_name, schema_name, volume_name = volume
            landing = plans.setdefault(catalog_name, CatalogPlan(catalog_name)).schema(schema_name)
            landing.managed = True
            landing.volumes.add(volume_name)
    for plan in plans.values():
        # A schema managed elsewhere that nobody reads leaves no trace in the plan.
        plan.schemas = {
            name: schema
            for name, schema in sorted(plan.schemas.items())
            if schema.managed or schema.volumes or schema.readers
        }
    return {
        name: plans[name]
        for name in sorted(plans)
        if plans[name].schemas or plans[name].authoritative
    }


def grant_conflicts(stack: Stack) -> list[LocatedError]:
    """Two pipelines giving one principal different complete lists on one catalog: one grant
    would overwrite the other on every deploy."""
    errors: list[LocatedError] = []
    first: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for name, pipeline in sorted(stack.pipelines.items()):
        for index, grant in enumerate(pipeline.authoritative_catalog_grants):
            key = (pipeline.catalog or "", grant.principal)
            other = first.setdefault(key, (name, grant.privileges))
            if other[1] != grant.privileges:
                errors.append(
                    stack.locate(
                        "pipeline",
                        name,
                        ("authoritative_catalog_grants", index, grant.principal_kind),
                        f"pipeline {other[0]} gives '{grant.principal}' another complete list "
                        f"on catalog {pipeline.catalog} ({', '.join(other[1])}): give one list",
                    )
                )
    return errors


def reader_notices(stack: Stack) -> list[LocatedError]:
    """What each reader still needs from someone else: USE CATALOG on the catalog (unless an
    authoritative catalog grant gives it), and USE SCHEMA and SELECT on a schema the stack does
    not create."""
    notices: list[LocatedError] = []
    for name, pipeline in sorted(stack.pipelines.items()):
        granted = {
            grant.principal
            for grant in pipeline.authoritative_catalog_grants
            if {"USE_CATALOG", "ALL_PRIVILEGES"} & set(grant.privileges)
        }
        for index, reader in enumerate(pipeline.readers):
            needs = []
            if reader.principal not in granted:
                needs.append(f"GRANT USE CATALOG ON CATALOG `{pipeline.catalog}`")
            if not pipeline.manage_schema:
                needs.append(
                    f"GRANT USE SCHEMA, SELECT ON SCHEMA `{pipeline.catalog}`.`{pipeline.target}`"
                )
            if needs:
                notices.append(
                    stack.locate(
                        "pipeline",
                        name,
                        ("readers", index, reader.principal_kind),
                        f"'{reader.principal}' can query these tables once an owner of what "
                        "this stack does not create runs: "
                        + "; ".join(f"{need} TO `{reader.principal}`" for need in needs)
                        + " (or list the principal under authoritative_catalog_grants)",
                    )
                )
    return notices
