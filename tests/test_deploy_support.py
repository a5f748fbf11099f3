"""Helpers of the deploy tests (`test_deploy_*.py`): project copies, plans by key. No tests here."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from laktory_pulumi.deploy.preview import PlannedResource, plan

REPO = Path(__file__).resolve().parent.parent
PIPELINE_TYPE = "databricks:index/pipeline:Pipeline"
NOTEBOOK_TYPE = "databricks:index/notebook:Notebook"
FILE_TYPE = "databricks:index/workspaceFile:WorkspaceFile"
PERMISSIONS_TYPE = "databricks:index/permissions:Permissions"
CLUSTER_TYPE = "databricks:index/cluster:Cluster"
STACK_TYPE = "pulumi:pulumi:Stack"
# What a Pulumi project of this repository is made of; the package itself stays installed.
PROJECT_ENTRIES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py", "stacks")

TEMPLATE_SOURCE = """# Databricks notebook source
# MAGIC %pip install {{LAKTORY_WHEEL}}

# COMMAND ----------

import laktory_pulumi  # noqa: F401
"""

Key = tuple[str, str]


def copy_project(destination: Path, notebooks: Path | None = None) -> Path:
    """A copy of the repository's Pulumi project; `notebooks` replaces its notebooks folder."""
    destination.mkdir(parents=True, exist_ok=True)
    for entry in PROJECT_ENTRIES:
        source = REPO / entry
        if source.is_dir():
            shutil.copytree(source, destination / entry)
        else:
            shutil.copy2(source, destination / entry)
    shutil.copytree(notebooks or REPO / "notebooks", destination / "notebooks")
    return destination


def write_notebooks(folder: Path, names: list[str]) -> Path:
    """Notebook templates carrying the wheel token, as the real ones do."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(f"{TEMPLATE_SOURCE}\n# {name}\n")
    return folder


def by_key(resources: list[PlannedResource]) -> dict[Key, PlannedResource]:
    """Resources by (type, name), the pair Pulumi identifies them by under one parent."""
    keyed = {(resource.type, resource.name): resource for resource in resources}
    assert len(keyed) == len(resources), "two resources share a type and a name"
    return keyed


def of_type(resources: list[PlannedResource], type_: str) -> list[PlannedResource]:
    return [resource for resource in resources if resource.type == type_]


def plan_of(project: Path, stack: str) -> dict[Key, PlannedResource]:
    return by_key(plan(project, stack))


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(`clusters[0].autoscale.minWorkers`, 1) pairs of every leaf."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from flatten(item, f"{path}[{index}]")
    else:
        yield path, value


def differing_inputs(left: PlannedResource, right: PlannedResource) -> set[str]:
    """Leaf paths whose values differ between two versions of one resource."""
    left_leaves, right_leaves = dict(flatten(left.inputs)), dict(flatten(right.inputs))
    return {
        path
        for path in left_leaves.keys() | right_leaves.keys()
        if left_leaves.get(path) != right_leaves.get(path)
    }
