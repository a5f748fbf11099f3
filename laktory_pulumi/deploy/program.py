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

from ..loader import StackConfig, load_stack
from .cluster_component import ClusterComponent
from .pipeline_component import PipelineComponent
from .secrets import SecretValues, env_secret_values

NOTEBOOKS_FOLDER = "notebooks"
# The project's own config keys (`lakehouse:vars`, ...) the program reads.
_OBJECT_KEYS = ("vars", "pipelines")
_TEXT_KEYS = ("protect", "laktory_root")


@dataclass(frozen=True)
class DeployedStack:
    """The components the program created, by name."""

    pipelines: dict[str, PipelineComponent]
    clusters: dict[str, ClusterComponent]


def read_stack_config(config: pulumi.Config) -> StackConfig:
    """The stack config as the engine hands it to the program, secrets decrypted."""
    settings: dict[str, Any] = {}
    for key in _OBJECT_KEYS:
        settings[key] = config.get_object(key)
    for key in _TEXT_KEYS:
        settings[key] = config.get(key)
    present = {key: value for key, value in settings.items() if value is not None}
    return StackConfig.from_settings(pulumi.get_project(), pulumi.get_stack(), present)


def secret_config_values(config: pulumi.Config) -> SecretValues:
    """The plain values of the project's config keys that are secret (see `deploy.secrets`)."""
    secret = [
        config.get_object(key) if key in _OBJECT_KEYS else config.get(key)
        for key in (*_OBJECT_KEYS, *_TEXT_KEYS)
        if pulumi.runtime.is_config_secret(config.full_key(key))
    ]
    return SecretValues.of(value for value in secret if value is not None)


def deploy_stack(project_dir: Path) -> DeployedStack:
    """Create the components of every definition of `project_dir/stacks/` and export outputs.

    Raises `LoadError` (located messages) when a definition is invalid.
    """
    config = pulumi.Config()
    stack_config = read_stack_config(config)
    secrets = secret_config_values(config).merged(env_secret_values(project_dir))
    stack = load_stack(project_dir, stack_config.stack, config=stack_config)
    # Children inherit `protect` from their component.
    options = pulumi.ResourceOptions(protect=stack_config.protect)

    pipelines = {
        name: PipelineComponent(
            pipeline,
            notebooks_dir=project_dir / NOTEBOOKS_FOLDER,
            laktory_root=stack_config.laktory_root,
            secrets=secrets,
            opts=options,
        )
        for name, pipeline in stack.pipelines.items()
    }
    clusters = {
        name: ClusterComponent(cluster, secrets=secrets, opts=options)
        for name, cluster in stack.clusters.items()
    }

    pulumi.export(
        "pipelines",
        {
            name: {
                "id": component.pipeline_id,
                "url": component.pipeline_url,
                "metadata_path": component.metadata_path,
                "notebook_paths": component.notebook_paths,
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
    return DeployedStack(pipelines=pipelines, clusters=clusters)
