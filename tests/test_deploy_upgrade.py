"""A prod upgrade never asks Pulumi to replace or delete a protected resource.

Pulumi's mock runtime knows no provider schema: it would "update" anything. So the plans before
and after are compared on the inputs the Databricks provider marks ForceNew
(`deploy.protection.REPLACE_FORCING_INPUTS`, read from the provider's source): a protected
resource whose such input changed, or that disappeared, would make `pulumi up --stack prod`
fail.
"""

from __future__ import annotations

import shutil
from base64 import b64decode
from pathlib import Path

import pytest
import yaml
from test_deploy_support import (
    FILE_TYPE,
    NOTEBOOK_TYPE,
    PIPELINE_TYPE,
    REPO,
    Key,
    copy_project,
    plan_of,
)

from laktory_pulumi.deploy import wheel
from laktory_pulumi.deploy.preview import PlannedResource
from laktory_pulumi.deploy.protection import HOLDS_DATA, REPLACE_FORCING_INPUTS

NAME = "pl-stock-prices"
OLD_NOTEBOOK, NEW_NOTEBOOK = "dlt_gld_template", "dlt_gld_daily"
NEW_TABLE = {
    "name": "slv_symbols",
    "builder": {
        "layer": "SILVER",
        "table_source": {"name": "brz_stock_prices", "read_as_stream": True},
    },
    "columns": [
        {
            "name": "symbol",
            "type": "string",
            "spark_func_name": "coalesce",
            "spark_func_args": ["data.symbol"],
        }
    ],
}


def upgraded_project(destination: Path) -> Path:
    """The repository's project with a notebook renamed and a table added."""
    notebooks = destination.parent / f"{destination.name}-notebooks"
    shutil.copytree(REPO / "notebooks", notebooks)
    renamed = (notebooks / f"{OLD_NOTEBOOK}.py").read_text().replace(OLD_NOTEBOOK, NEW_NOTEBOOK)
    (notebooks / f"{OLD_NOTEBOOK}.py").unlink()
    (notebooks / f"{NEW_NOTEBOOK}.py").write_text(renamed)
    project = copy_project(destination, notebooks=notebooks)
    path = project / "stacks" / "pipelines" / f"{NAME}.yaml"
    text = path.read_text().replace(OLD_NOTEBOOK, NEW_NOTEBOOK)
    definition = yaml.safe_load(text)
    for table in definition["tables"]:  # the gold tables now name their renamed notebook
        if table["builder"]["layer"] == "GOLD":
            table["builder"]["template"] = NEW_NOTEBOOK
    definition["tables"].append(NEW_TABLE)
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return project


def new_package_content(destination: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deploy packs a copy of the package with one module changed: a new release."""
    shutil.copytree(
        REPO / "laktory_pulumi", destination, ignore=shutil.ignore_patterns("__pycache__")
    )
    module = destination / "runtime" / "builders.py"
    module.write_text(module.read_text() + "\n# the next release\n")
    monkeypatch.setattr(wheel, "_PACKAGE_DIR", destination)


def replace_forcing_changes(before: PlannedResource, after: PlannedResource) -> set[str]:
    forcing = REPLACE_FORCING_INPUTS.get(before.type, ())
    changed = {key for key in forcing if before.inputs.get(key) != after.inputs.get(key)}
    if before.type == PIPELINE_TYPE and {"catalog", "storage"} <= {
        key for key in ("catalog", "storage") if before.inputs.get(key) != after.inputs.get(key)
    }:
        changed.add("catalog")  # switching metastores (CustomizeDiff forces new)
    return changed


def assert_safe_for_protected(
    before: dict[Key, PlannedResource], after: dict[Key, PlannedResource]
) -> None:
    protected = {key: resource for key, resource in before.items() if resource.protect}
    # Every kind that holds data, but clusters: prod deploys none (the debug cluster is dev's).
    assert {key[0] for key in protected} == HOLDS_DATA - {"databricks:index/cluster:Cluster"}
    for key, resource in protected.items():
        assert key in after, f"protected {key} would be deleted"
        assert after[key].protect
        assert not replace_forcing_changes(resource, after[key]), key
    for key in before.keys() - after.keys():
        assert not before[key].protect, key


def test_an_upgrade_replaces_or_deletes_no_protected_resource(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = plan_of(copy_project(tmp_path / "before"), "prod")
    new_package_content(tmp_path / "package" / "laktory_pulumi", monkeypatch)
    after = plan_of(upgraded_project(tmp_path / "after"), "prod")

    assert_safe_for_protected(before, after)
    # The upgrade did happen, on unprotected resources only: a new wheel path (replacement),
    # the renamed notebook (one deleted, one created), the pipeline updated in place.
    wheel_key = (FILE_TYPE, f"{NAME}/wheel")
    assert before[wheel_key].inputs["path"] != after[wheel_key].inputs["path"]
    assert not before[wheel_key].protect
    assert (NOTEBOOK_TYPE, f"{NAME}/notebook/{OLD_NOTEBOOK}") not in after
    assert (NOTEBOOK_TYPE, f"{NAME}/notebook/{NEW_NOTEBOOK}") in after
    pipeline = (PIPELINE_TYPE, NAME)
    assert before[pipeline].inputs["libraries"] != after[pipeline].inputs["libraries"]
    metadata = (FILE_TYPE, f"{NAME}/metadata")
    assert b"slv_symbols" not in b64decode(before[metadata].inputs["contentBase64"])
    assert b"slv_symbols" in b64decode(after[metadata].inputs["contentBase64"])


def test_a_new_laktory_root_replaces_no_protected_resource(tmp_path: Path) -> None:
    before = plan_of(copy_project(tmp_path / "before"), "prod")
    moved = copy_project(tmp_path / "after")
    stack_file = moved / "Pulumi.prod.yaml"
    config = yaml.safe_load(stack_file.read_text())
    config["config"]["lakehouse:laktory_root"] = "/Shared/lakehouse/"
    stack_file.write_text(yaml.safe_dump(config))
    after = plan_of(moved, "prod")

    assert_safe_for_protected(before, after)
    paths = {r.inputs["path"] for r in after.values() if r.type in (NOTEBOOK_TYPE, FILE_TYPE)}
    assert all(path.startswith("/Shared/lakehouse/") for path in paths)
