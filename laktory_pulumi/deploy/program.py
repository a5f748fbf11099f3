"""The Pulumi program: stack config -> `stacks/` -> one component per pipeline and cluster.

The project's `__main__.py` only calls `deploy_stack`; `pulumi up` runs it with the real engine
and `laktory-pulumi preview` with Pulumi's mock runtime, so both see the same resources.

The Databricks provider is the default one: it takes its host and token from `databricks:host`
and `databricks:token` in the stack config, or from DATABRICKS_HOST and DATABRICKS_TOKEN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from ..gc_pause import collect_rarely_in_this_program
from ..loader import LoadError, LocatedError, Stack, StackConfig, load_stack
from ..models import Pipeline
from .catalog_component import CatalogComponent
from .catalog_plan import catalog_plans, grant_conflicts, landing_volume, reader_notices
from .cluster_component import ClusterComponent
from .deployed import DEPLOYED_OUTPUT, PreviousLookup, own_stack_outputs
from .dropped_tables import dropped_tables
from .groups import GroupLookup, lookup_group, missing_groups
from .pipeline_component import PipelineComponent
from .prerequisites import WorkspaceLookups, provider_lookups, workspace_problems
from .secrets import SecretValues, env_secret_values
from .table_tags import assigned, existing_tables, foreign_tags, pending_tag_notices
from .wheel import build_wheel

NOTEBOOKS_FOLDER = "notebooks"
# The project's own config keys (`lakehouse:vars`, ...) the program reads.
_OBJECT_KEYS = ("vars", "pipelines")
_TEXT_KEYS = ("protect", "laktory_root", "name_prefix")


@dataclass(frozen=True)
class DeployedStack:
    """The components the program created, by name."""

    pipelines: dict[str, PipelineComponent]
    clusters: dict[str, ClusterComponent]
    catalogs: dict[str, CatalogComponent]


def read_stack_config(config: pulumi.Config, file_config: StackConfig | None = None) -> StackConfig:
    """The stack config as the engine hands it to the program, secrets decrypted.

    Its secret variables: none unless the engine says `vars` is secret; then those the stack
    file encrypts (`file_config`) and those it does not write, or every one when the file
    encrypts none.
    """
    settings: dict[str, Any] = {}
    for key in _OBJECT_KEYS:
        settings[key] = config.get_object(key)
    for key in _TEXT_KEYS:
        settings[key] = config.get(key)
    present = {key: value for key, value in settings.items() if value is not None}
    secret: frozenset[str] = frozenset()
    variables = present.get("vars")
    if pulumi.runtime.is_config_secret(config.full_key("vars")) and isinstance(variables, dict):
        written = file_config.variables if file_config is not None else {}
        marked = file_config.secret_variables if file_config is not None else frozenset()
        # A variable the file does not write came from elsewhere (an environment, another
        # config source) and may be the encrypted one; with no variable marked, all are.
        unwritten = frozenset(name for name in variables if name not in written)
        secret = (marked | unwritten) if marked else frozenset(variables)
    return StackConfig.from_settings(
        pulumi.get_project(), pulumi.get_stack(), present, secret_variables=secret
    )


def secret_config_values(
    config: pulumi.Config, secret_variables: frozenset[str] | None = None
) -> SecretValues:
    """The plain values of the project's config keys that are secret (see `deploy.secrets`).

    Of `vars`, only the `secret_variables` when given: a variable the stack file writes in
    clear is no secret.
    """
    secret: list[Any] = []
    for key in (*_OBJECT_KEYS, *_TEXT_KEYS):
        if not pulumi.runtime.is_config_secret(config.full_key(key)):
            continue
        value = config.get_object(key) if key in _OBJECT_KEYS else config.get(key)
        if key == "vars" and secret_variables and isinstance(value, dict):
            value = {name: item for name, item in value.items() if name in secret_variables}
        secret.append(value)
    return SecretValues.of(value for value in secret if value is not None)


def unknown_cluster_stacks(stack: Stack, project_dir: Path) -> list[LocatedError]:
    """A cluster's `stacks` naming a stack without a `Pulumi.<stack>.yaml`: a typo would deploy
    the cluster nowhere."""
    known = {
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in project_dir.glob("Pulumi.*.yaml")
    }
    return [
        stack.locate(
            "cluster",
            name,
            ("stacks", index),
            f"no stack '{named}' in this project (Pulumi.{named}.yaml); stacks: "
            + ", ".join(sorted(known)),
        )
        for name, cluster in sorted(stack.clusters.items())
        for index, named in enumerate(cluster.stacks)
        if named not in known
    ]


def deploy_stack(
    project_dir: Path,
    *,
    group_lookup: GroupLookup = lookup_group,
    lookups: WorkspaceLookups | None = None,
    previous_lookup: PreviousLookup = own_stack_outputs,
) -> DeployedStack:
    """Create the components of every definition of `project_dir/stacks/` and export outputs.

    Raises `LoadError` (located messages) when a definition is invalid, names a group or a
    catalog the workspace lacks, would create a name another owner holds, or would drop a
    table of a protected stack; then nothing is created. Notices (what readers still need,
    which tables an update drops) go to Pulumi's log, each at its YAML line.
    """
    collect_rarely_in_this_program()
    config = pulumi.Config()
    file_config = None
    if (project_dir / f"Pulumi.{pulumi.get_stack()}.yaml").exists():
        # The file's mistakes (`protect: ture`, an unknown key), located at their line; the
        # engine's copy of the config says no line. The file also says which variables are
        # encrypted.
        file_config = StackConfig.read(project_dir, pulumi.get_stack())
    stack_config = read_stack_config(config, file_config)
    known = secret_config_values(config, stack_config.secret_variables).merged(
        env_secret_values(project_dir)
    )
    # The loader names variables rather than their values; this is a second net for the
    # program's error text, which the Pulumi CLI prints and keeps in its logs.
    try:
        stack = load_stack(project_dir, stack_config.stack, config=stack_config)
    except LoadError as error:
        raise known.redact_errors(error) from None
    secrets = known.merged(SecretValues.of_fields(stack.secret_values))
    # `protect` is decided per child by what it holds (`deploy.protection`); components
    # themselves are never protected, or every child would inherit it.
    protect = stack_config.protect
    plans = catalog_plans(stack.pipelines.values())
    previous = previous_lookup()
    problems = missing_groups(stack, group_lookup) + grant_conflicts(stack)
    workspace = lookups or provider_lookups()
    if not problems:
        problems = workspace_problems(
            stack,
            plans,
            workspace,
            previous,
            name_prefix=stack_config.name_prefix,
        )
    existing = {name: existing_tables(p, workspace) for name, p in stack.pipelines.items()}
    if not problems:
        problems = foreign_tags(stack, existing, workspace, previous)
    refused, drops = dropped_tables(stack, previous, protect=protect)
    problems += refused + unknown_cluster_stacks(stack, project_dir)
    if problems:
        # A group named by a secret variable would be quoted in clear.
        raise secrets.redact_errors(LoadError(problems))
    for notice in secrets.redact_errors(LoadError(reader_notices(stack))).errors:
        pulumi.log.info(f"notice: {notice}")
    for notice in secrets.redact_errors(LoadError(drops)).errors:
        pulumi.log.warn(f"notice: {notice}")
    for notice in secrets.redact_errors(LoadError(pending_tag_notices(stack, existing))).errors:
        pulumi.log.info(f"notice: {notice}")

    catalogs = {
        name: CatalogComponent(plan, protect=protect, secrets=secrets)
        for name, plan in plans.items()
    }

    def needed_by(pipeline: Pipeline) -> list[pulumi.Resource]:
        needed: list[pulumi.Resource] = []
        if pipeline.catalog in catalogs:
            needed += catalogs[pipeline.catalog].needed_by(pipeline.target, None)
        volume = landing_volume(pipeline) if pipeline.manage_landing_volume else None
        if volume is not None and volume[0] in catalogs:
            needed += catalogs[volume[0]].needed_by(None, (volume[1], volume[2]))
        return needed

    wheel = build_wheel()  # the same package for every pipeline: read and packed once
    pipelines = {
        name: PipelineComponent(
            pipeline,
            notebooks_dir=project_dir / NOTEBOOKS_FOLDER,
            laktory_root=stack_config.laktory_root,
            name_prefix=stack_config.name_prefix,
            protect=protect,
            depends_on=needed_by(pipeline),
            wheel=wheel,
            secrets=secrets,
            existing_tables=existing[name],
        )
        for name, pipeline in stack.pipelines.items()
    }
    clusters = {
        name: ClusterComponent(
            cluster, name_prefix=stack_config.name_prefix, protect=protect, secrets=secrets
        )
        for name, cluster in stack.clusters.items()
        if not cluster.stacks or stack_config.stack in cluster.stacks
    }

    pulumi.export(
        "pipelines",
        {
            name: {
                "id": component.pipeline_id,
                "url": component.pipeline_url,
                "metadata_path": component.metadata_path,
                "notebook_paths": component.notebook_paths,
                **({"job_id": component.job.id} if component.job is not None else {}),
            }
            for name, component in pipelines.items()
        },
    )
    pulumi.export(
        "clusters",
        {
            name: {"id": component.cluster_id, "url": component.cluster_url}
            for name, component in clusters.items()
        },
    )
    # Read back by the next run (`deploy.deployed`): what this update leaves deployed.
    pulumi.export(
        DEPLOYED_OUTPUT,
        {
            "tables": {
                name: sorted(table.name for table in pipeline.tables)
                for name, pipeline in sorted(stack.pipelines.items())
            },
            "pipeline_ids": {name: component.pipeline_id for name, component in pipelines.items()},
            "schemas": secrets.conceal(
                sorted(f"{c.catalog}.{schema}" for c in catalogs.values() for schema in c.schemas)
            ),
            "volumes": secrets.conceal(
                sorted(f"{c.catalog}.{s}.{v}" for c in catalogs.values() for s, v in c.volumes)
            ),
            "table_tags": sorted(
                tag
                for name, pipeline in stack.pipelines.items()
                for tag in assigned(pipeline, existing[name])
            ),
        },
    )
    return DeployedStack(pipelines=pipelines, clusters=clusters, catalogs=catalogs)
