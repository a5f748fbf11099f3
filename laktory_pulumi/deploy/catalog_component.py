"""`laktory:databricks:Catalog`: the schemas, volumes and reader grants of one catalog.

Children, named from stable keys (`dev.finance`, `dev.sources.landing`,
`dev.finance/readers/role-analysts`):

- `databricks.Schema` for each schema the stack manages, and `databricks.Volume` (MANAGED) for
  each landing volume; both hold data, so both are protected when the stack protects;
- `databricks.Grant` per reader: USE_CATALOG on the catalog, USE_SCHEMA and SELECT on each
  schema they read. `databricks.Grant` (one principal on one securable) rather than
  `databricks.Grants`, which owns the whole grant list of its securable and would revoke what
  other teams granted on a shared catalog. A `databricks_grant` is authoritative for its one
  principal on its securable (terraform-provider-databricks docs/resources/grant.md), so a
  reader's other privileges on the same catalog or schema are best granted through this YAML
  too. Grants are never protected: they are rewritten from the YAML at will.

Catalog and schema names often come from `${vars.X}`: every input holding a secret value is a
Pulumi secret, and a resource name (which Pulumi stores in clear, in the URN) that would hold
one is replaced by a hash of it.
"""

from __future__ import annotations

import hashlib

import pulumi
import pulumi_databricks as databricks

from .catalog_plan import CatalogPlan
from .protection import child_options
from .secrets import SecretValues

CATALOG_TYPE = "laktory:databricks:Catalog"
SCHEMA_PRIVILEGES = ["SELECT", "USE_SCHEMA"]
# UC stores object names in lower case, and compares them so (the provider suppresses a
# case-only diff); the volume type cannot change without a replacement.
VOLUME_TYPE = "MANAGED"


class CatalogComponent(pulumi.ComponentResource):
    """What the stack's pipelines need in one Unity Catalog catalog."""

    catalog: str
    schemas: dict[str, databricks.Schema]
    """The created schemas, by name."""
    volumes: dict[tuple[str, str], databricks.Volume]
    """The created volumes, by (schema, volume)."""

    def __init__(
        self,
        plan: CatalogPlan,
        *,
        protect: bool = False,
        secrets: SecretValues | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secrets = secrets or SecretValues()
        conceal = secrets.conceal

        def named(text: str) -> str:
            if not secrets.found_in(text):
                return text
            return "secret-" + hashlib.sha256(text.encode()).hexdigest()[:12]

        super().__init__(CATALOG_TYPE, named(plan.name), None, opts)
        catalog = plan.name
        self.catalog = catalog
        self.schemas = {}
        self.volumes = {}
        for schema in plan.schemas.values():
            full_name = f"{catalog}.{schema.name}"
            if schema.managed:
                self.schemas[schema.name] = databricks.Schema(
                    named(full_name),
                    catalog_name=conceal(catalog),
                    name=conceal(schema.name),
                    comment="Managed by laktory-pulumi.",
                    opts=child_options(self, protect=protect, holds_data=True),
                )
            needs_schema = [self.schemas[schema.name]] if schema.managed else []
            for volume in sorted(schema.volumes):
                self.volumes[(schema.name, volume)] = databricks.Volume(
                    named(f"{full_name}.{volume}"),
                    catalog_name=conceal(catalog),
                    schema_name=conceal(schema.name),
                    name=conceal(volume),
                    volume_type=VOLUME_TYPE,
                    comment="Landing files of laktory-pulumi pipelines.",
                    opts=child_options(
                        self, protect=protect, holds_data=True, depends_on=needs_schema
                    ),
                )
            # Only on a schema this stack creates (`catalog_plan`): nothing to take away there.
            for principal in sorted(schema.readers) if schema.managed else ():
                databricks.Grant(
                    named(f"{full_name}/readers/{principal}"),
                    schema=conceal(full_name),
                    principal=conceal(principal),
                    privileges=SCHEMA_PRIVILEGES,
                    opts=child_options(
                        self, protect=protect, holds_data=False, depends_on=needs_schema
                    ),
                )
        for principal, grant in sorted(plan.authoritative.items()):
            databricks.Grant(
                named(f"{catalog}/authoritative/{principal}"),
                catalog=conceal(catalog),
                principal=conceal(principal),
                privileges=grant.privileges,
                opts=child_options(self, protect=protect, holds_data=False),
            )
        self.register_outputs(
            {
                "schemas": conceal(sorted(f"{catalog}.{name}" for name in self.schemas)),
                "volumes": conceal(sorted(f"{catalog}.{s}.{v}" for s, v in self.volumes)),
            }
        )

    def needed_by(
        self, schema: str | None, volume: tuple[str, str] | None
    ) -> list[pulumi.Resource]:
        """What a pipeline must wait for: its target schema and its landing volume, if here."""
        needed: list[pulumi.Resource] = []
        if schema in self.schemas:
            needed.append(self.schemas[schema])
        if volume in self.volumes:
            needed.append(self.volumes[volume])
        return needed
