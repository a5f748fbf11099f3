"""Which Unity Catalog objects the stack's pipelines need, merged across pipelines.

Several pipelines often publish to one schema or land events in one volume; each object must be
created once, so the plan is made for the whole stack, per catalog:

- the `target` schema of every pipeline with a `catalog` (unless `manage_schema: false`);
- the landing volume `/Volumes/<catalog>/<schema>/<volume>` that `configuration.landing_root`
  names, and its schema, when a table reads landed events without its own `events_root`
  (unless `manage_landing_volume: false`);
- the readers of each target schema: USE CATALOG on the catalog, USE SCHEMA and SELECT on the
  schema (Unity Catalog needs all three to query a table: docs.databricks.com, "Unity Catalog
  privileges and securable objects").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..models import Pipeline
from ..models.permission import Principal

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

    def schema(self, name: str) -> SchemaPlan:
        return self.schemas.setdefault(name, SchemaPlan(name))

    @property
    def readers(self) -> dict[str, Principal]:
        """Everyone reading any schema of the catalog, who needs USE CATALOG."""
        return {key: p for plan in self.schemas.values() for key, p in plan.readers.items()}


def landing_volume(pipeline: Pipeline) -> tuple[str, str, str] | None:
    """(catalog, schema, volume) of the landing root, when the pipeline reads landed events
    from it and the root is a Unity Catalog volume path."""
    reads_landing = any(
        table.builder.event_source is not None and table.builder.event_source.events_root is None
        for table in pipeline.tables
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
    return {name: plans[name] for name in sorted(plans) if plans[name].schemas}
