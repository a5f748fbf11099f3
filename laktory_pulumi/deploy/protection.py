"""What `protect` guards, and which inputs of each resource force its replacement.

`protect: true` (prod) must stop Pulumi from deleting or replacing what holds data or identity,
and nothing else: a protected resource that an upgrade wants to replace or delete makes
`pulumi up` fail. So:

- protected: the pipeline (its tables and their history live with it), standalone clusters,
  schemas and volumes (`HOLDS_DATA`);
- never protected: notebooks, the metadata file, the wheel, permissions, grants and jobs, which
  the deploy rewrites from the YAML at will. A package upgrade gives the wheel a new path
  (`deploy.wheel`), a renamed notebook a new path, a new laktory root new paths for all of them:
  each is a replacement, which must never meet a protected resource.

Every child sets `protect` explicitly: a child without it inherits its parent's, which would
protect the routine resources of a protected component.

`REPLACE_FORCING_INPUTS` lists, per resource type, the inputs whose change makes the provider
replace the resource (pulumi-databricks bridges the Databricks Terraform provider, whose schema
marks them ForceNew). Read from databricks/terraform-provider-databricks (2026-08):

- `pipelines/resource_pipeline.go` `CustomizeSchema`: `storage` ForceNew; `catalog` is updated
  in place, except together with `storage` (switching metastores), which `CustomizeDiff` forces
  new;
- `workspace/file_resource.go` `FileContentSchema`: `path` ForceNew, for `databricks_notebook`
  and `databricks_workspace_file` alike;
- `clusters/resource_cluster.go`: only `idempotency_token` is ForceNew;
- `catalog/resource_schema.go` `SchemaInfo`: `name`, `catalog_name`, `storage_root`
  (`tf:"force_new"`);
- `catalog/resource_volume.go` `VolumeInfo`: `catalog_name`, `schema_name`,
  `storage_location`, `volume_type`; `name` is updated in place (a rename).

Pulumi's mock runtime knows none of this; tests/test_deploy_upgrade.py checks plans against it.
"""

from __future__ import annotations

import pulumi

PIPELINE = "databricks:index/pipeline:Pipeline"
CLUSTER = "databricks:index/cluster:Cluster"
SCHEMA = "databricks:index/schema:Schema"
VOLUME = "databricks:index/volume:Volume"
NOTEBOOK = "databricks:index/notebook:Notebook"
WORKSPACE_FILE = "databricks:index/workspaceFile:WorkspaceFile"

HOLDS_DATA = frozenset({PIPELINE, CLUSTER, SCHEMA, VOLUME})
"""Resource types `protect` guards."""

REPLACE_FORCING_INPUTS: dict[str, tuple[str, ...]] = {
    PIPELINE: ("storage",),
    CLUSTER: ("idempotencyToken",),
    SCHEMA: ("name", "catalogName", "storageRoot"),
    VOLUME: ("catalogName", "schemaName", "storageLocation", "volumeType"),
    NOTEBOOK: ("path",),
    WORKSPACE_FILE: ("path",),
}
"""Engine property names (as in a plan) of the inputs that force a replacement, by type."""


def child_options(
    parent: pulumi.Resource, *, protect: bool, holds_data: bool, **options: object
) -> pulumi.ResourceOptions:
    """A child's options: parented, and protected only when the stack protects and it holds data."""
    return pulumi.ResourceOptions(parent=parent, protect=protect and holds_data, **options)  # type: ignore[arg-type]
