"""The project's `__main__.py` under Pulumi's mock runtime, for the dev and prod stacks."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from test_deploy_support import (
    CLUSTER_TYPE,
    FILE_TYPE,
    NOTEBOOK_TYPE,
    PERMISSIONS_TYPE,
    PIPELINE_TYPE,
    REPO,
    STACK_TYPE,
    Key,
    by_key,
    copy_project,
    differing_inputs,
    of_type,
    plan_of,
    write_notebooks,
)

from laktory_pulumi.deploy.preview import PlannedResource, plan, render_tree
from laktory_pulumi.deploy.wheel import build_wheel
from laktory_pulumi.loader import load_stack
from laktory_pulumi.metadata import LAKTORY_ROOT_ENV, WORKSPACE_ROOT_ENV, read_metadata
from laktory_pulumi.models import Pipeline

NAME = "pl-stock-prices"
COMPONENT = ("laktory:databricks:Pipeline", NAME)
NOTEBOOKS = ("dlt_brz_template", "dlt_slv_template", "dlt_slv_star_template", "dlt_gld_template")
# The dev stack's default root and prefix (Pulumi.dev.yaml sets neither).
ROOT = "/.laktory/dev/"
NOTEBOOK_PATHS = sorted(f"{ROOT}pipelines/{NAME}/{notebook}" for notebook in NOTEBOOKS)
METADATA_PATH = f"{ROOT}pipelines/{NAME}.json"
WHEEL_PATH = f"{ROOT}wheels/{NAME}/{build_wheel().filename}"
GRANT_TYPE = "databricks:index/grant:Grant"
SCHEMA_TYPE = "databricks:index/schema:Schema"
VOLUME_TYPE = "databricks:index/volume:Volume"
CATALOG_COMPONENT = "laktory:databricks:Catalog"


@pytest.fixture(scope="module")
def dev() -> list[PlannedResource]:
    return plan(REPO, "dev")


@pytest.fixture(scope="module")
def prod() -> list[PlannedResource]:
    return plan(REPO, "prod")


def decoded_metadata(resources: dict[Key, PlannedResource]) -> bytes:
    return base64.b64decode(resources[(FILE_TYPE, f"{NAME}/metadata")].inputs["contentBase64"])


def test_dev_deploys_one_pipeline_its_notebooks_files_and_permissions(
    dev: list[PlannedResource],
) -> None:
    component = by_key(dev)[COMPONENT]
    children = [resource for resource in dev if resource.parent == component.urn]
    assert {resource.parent for resource in children} == {component.urn}
    assert component.parent == by_key(dev)[(STACK_TYPE, "lakehouse-dev")].urn

    (pipeline,) = of_type(dev, PIPELINE_TYPE)
    assert pipeline.parent == component.urn
    inputs = pipeline.inputs
    assert inputs["name"] == f"[dev] {NAME}"
    assert inputs["catalog"] == "dev"
    assert inputs["schema"] == "finance"  # the YAML's `target`, in the default publishing mode
    assert inputs["development"] is True
    (cluster,) = inputs["clusters"]
    assert cluster["label"] == "default"
    assert cluster["nodeTypeId"] == "Standard_DS3_v2"
    assert cluster["autoscale"] == {"minWorkers": 1, "maxWorkers": 2}
    assert [library["notebook"]["path"] for library in inputs["libraries"]] == NOTEBOOK_PATHS
    assert inputs["configuration"] == {
        "landing_root": "/Volumes/dev/sources/landing",
        "pipeline_name": NAME,
        "laktory_root": ROOT,
    }

    notebooks = of_type(children, NOTEBOOK_TYPE)
    assert sorted(notebook.inputs["path"] for notebook in notebooks) == NOTEBOOK_PATHS
    assert {notebook.inputs["language"] for notebook in notebooks} == {"PYTHON"}
    for notebook in notebooks:
        source = base64.b64decode(notebook.inputs["contentBase64"]).decode()
        assert f"%pip install /Workspace{WHEEL_PATH}" in source
        assert "{{LAKTORY_WHEEL}}" not in source
    files = {f.inputs["path"]: f for f in of_type(children, FILE_TYPE)}
    assert set(files) == {METADATA_PATH, WHEEL_PATH}
    assert base64.b64decode(files[WHEEL_PATH].inputs["contentBase64"]) == build_wheel().content

    permissions = {p.name: p.inputs for p in of_type(children, PERMISSIONS_TYPE)}
    assert permissions[f"{NAME}/permissions"] == {
        "pipelineId": f"{NAME}-id",
        "accessControls": [
            {"groupName": "account users", "permissionLevel": "CAN_VIEW"},
            {"groupName": "role-engineers", "permissionLevel": "CAN_RUN"},
        ],
    }
    read_only = [
        {"groupName": "account users", "permissionLevel": "CAN_READ"},
        {"groupName": "role-engineers", "permissionLevel": "CAN_READ"},
    ]
    readable = {
        p.get("notebookPath") or p.get("workspaceFilePath"): p["accessControls"]
        for name, p in permissions.items()
        if name != f"{NAME}/permissions"
    }
    assert readable == {path: read_only for path in [*NOTEBOOK_PATHS, METADATA_PATH, WHEEL_PATH]}
    # Exactly these, nothing else under the component.
    assert len(children) == 1 + len(NOTEBOOKS) + 2 + 1 + len(NOTEBOOKS) + 2
    assert component.outputs == {
        "pipeline_id": f"{NAME}-id",
        "metadata_path": METADATA_PATH,
        "notebook_paths": NOTEBOOK_PATHS,
    }


def test_the_metadata_file_reads_back_as_the_loaded_pipeline(
    dev: list[PlannedResource], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = decoded_metadata(by_key(dev))
    (tmp_path / METADATA_PATH.lstrip("/")).parent.mkdir(parents=True)
    (tmp_path / METADATA_PATH.lstrip("/")).write_bytes(content)
    monkeypatch.setenv(WORKSPACE_ROOT_ENV, str(tmp_path))
    monkeypatch.delenv(LAKTORY_ROOT_ENV, raising=False)

    loaded = load_stack(REPO, "dev").pipelines[NAME]
    assert read_metadata(NAME, ROOT) == loaded
    assert Pipeline.model_validate_json(content) == loaded


def test_the_debug_cluster_is_deployed_with_its_permissions(dev: list[PlannedResource]) -> None:
    resources = by_key(dev)
    component = resources[("laktory:databricks:Cluster", "cl-debug")]
    cluster = resources[(CLUSTER_TYPE, "cl-debug")]
    permissions = resources[(PERMISSIONS_TYPE, "cl-debug/permissions")]
    assert cluster.parent == permissions.parent == component.urn
    assert cluster.inputs == {
        "clusterName": "[dev] cl-debug",
        "sparkVersion": "17.3.x-scala2.13",
        "nodeTypeId": "Standard_DS3_v2",
        "numWorkers": 1,
        "autoterminationMinutes": 20,
        "dataSecurityMode": "USER_ISOLATION",
    }
    assert permissions.inputs == {
        "clusterId": "cl-debug-id",
        "accessControls": [{"groupName": "role-engineers", "permissionLevel": "CAN_RESTART"}],
    }


def test_prod_differs_from_dev_only_where_its_config_says(
    dev: list[PlannedResource], prod: list[PlannedResource]
) -> None:
    stacks = {(STACK_TYPE, "lakehouse-dev"), (STACK_TYPE, "lakehouse-prod")}

    def in_dev_names(key: Key) -> Key:
        # The Unity Catalog objects are named after their catalog, the stack's `catalog` var.
        type_, name = key
        return (type_, "dev" + name.removeprefix("prod")) if name.startswith("prod") else key

    # The debug cluster is dev's only (`stacks: [dev]`, test_deploy_rules.py).
    dev_only = {("laktory:databricks:Cluster", "cl-debug"), (CLUSTER_TYPE, "cl-debug")}
    dev_only.add((PERMISSIONS_TYPE, "cl-debug/permissions"))
    dev_resources = {
        key: r for key, r in by_key(dev).items() if key not in stacks and key not in dev_only
    }
    prod_resources = {in_dev_names(key): r for key, r in by_key(prod).items() if key not in stacks}
    assert set(dev_resources) == set(prod_resources)

    differences = {
        key: differing_inputs(dev_resources[key], prod_resources[key]) for key in dev_resources
    }
    changed = {key: paths for key, paths in differences.items() if paths}
    # The stack's name prefix and laktory root, and the stack's variables; nothing else.
    assert changed.pop((PIPELINE_TYPE, NAME)) == {
        "name",
        "catalog",
        "development",
        "clusters[0].autoscale.minWorkers",
        "clusters[0].autoscale.maxWorkers",
        "configuration.landing_root",
        "configuration.laktory_root",
        *(f"libraries[{index}].notebook.path" for index in range(len(NOTEBOOKS))),
    }
    for key, paths in changed.items():
        type_ = key[0]
        if key == (FILE_TYPE, f"{NAME}/wheel"):
            assert paths == {"path"}  # the same wheel, under the stack's root
        elif type_ in (NOTEBOOK_TYPE, FILE_TYPE):
            # Notebooks name the wheel's path; the metadata holds the stack's values.
            assert paths == {"path", "contentBase64"}, key
        elif type_ == PERMISSIONS_TYPE:
            assert paths <= {"notebookPath", "workspaceFilePath"} and paths, key
        else:
            assert type_ in (SCHEMA_TYPE, VOLUME_TYPE, GRANT_TYPE), key
            assert paths <= {"catalogName", "catalog", "schema"}, key
    prod_pipeline = prod_resources[(PIPELINE_TYPE, NAME)].inputs
    assert (prod_pipeline["catalog"], prod_pipeline["development"]) == ("prod", False)
    assert prod_pipeline["name"] == NAME  # prod sets an empty prefix
    assert prod_pipeline["clusters"][0]["autoscale"] == {"minWorkers": 2, "maxWorkers": 8}
    prod_model = load_stack(REPO, "prod").pipelines[NAME]
    assert Pipeline.model_validate_json(decoded_metadata(prod_resources)) == prod_model
    # protect: true in prod only, and there only on what holds data (deploy.protection).
    assert {r.protect for r in dev_resources.values()} == {False}
    protected = {key[0] for key, r in prod_resources.items() if r.protect}
    assert protected == {PIPELINE_TYPE, SCHEMA_TYPE, VOLUME_TYPE}  # no cluster in prod
    for key, resource in prod_resources.items():
        assert resource.protect == (key[0] in protected), key


def test_reordering_tables_permissions_and_libraries_changes_no_name(tmp_path: Path) -> None:
    original = copy_project(tmp_path / "original")
    reordered = copy_project(tmp_path / "reordered")
    path = reordered / "stacks" / "pipelines" / f"{NAME}.yaml"
    definition = yaml.safe_load(path.read_text())
    for key in ("tables", "permissions", "libraries"):
        assert len(definition[key]) > 1
        definition[key] = list(reversed(definition[key]))
    path.write_text(yaml.safe_dump(definition, sort_keys=False))

    before, after = plan_of(original, "dev"), plan_of(reordered, "dev")
    assert set(before) == set(after)
    metadata = (FILE_TYPE, f"{NAME}/metadata")
    for key in set(before) - {metadata}:
        assert before[key].inputs == after[key].inputs, key
    # The metadata file mirrors the YAML, order included (it must read back as the loaded
    # model); the same tables and permissions, reversed, and updated in place.
    before_model = Pipeline.model_validate_json(decoded_metadata(before))
    after_model = Pipeline.model_validate_json(decoded_metadata(after))
    assert after_model.tables == list(reversed(before_model.tables))
    assert after_model.permissions == list(reversed(before_model.permissions))
    put_back = {key: getattr(before_model, key) for key in ("tables", "permissions", "libraries")}
    assert after_model.model_copy(update=put_back) == before_model


def test_secret_config_stays_secret(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    stack_file = project / "Pulumi.dev.yaml"
    config = yaml.safe_load(stack_file.read_text())
    config["config"]["lakehouse:vars"]["api_token"] = {"secure": "v1:ZW5jcnlwdGVk"}
    stack_file.write_text(yaml.safe_dump(config))
    pipeline_file = project / "stacks" / "pipelines" / f"{NAME}.yaml"
    pipeline_file.write_text(
        pipeline_file.read_text().replace(
            "  landing_root: ${vars.landing_root}",
            "  landing_root: ${vars.landing_root}\n  api_token: ${vars.api_token}",
        )
    )

    resources = plan(project, "dev")
    keyed = by_key(resources)
    # Only the variable the stack file encrypts is secret: the input holding it, and the
    # metadata file. The variables written in clear stay readable (tests/test_harden_secrets.py
    # covers a `vars` secret whose file marks none: then every variable is).
    assert keyed[(PIPELINE_TYPE, NAME)].secret_inputs == {"configuration"}
    assert keyed[(FILE_TYPE, f"{NAME}/metadata")].secret_inputs == {"contentBase64"}
    assert keyed[(FILE_TYPE, f"{NAME}/wheel")].secret_inputs == frozenset()
    tree = render_tree(resources)
    assert "configuration: [secret]" in tree
    schemas = of_type(resources, "databricks:index/schema:Schema")
    assert schemas and not any(r.name.startswith("secret-") for r in schemas)


def test_the_stack_config_chooses_the_root_and_the_pipelines(tmp_path: Path) -> None:
    notebooks = write_notebooks(tmp_path / "notebooks", [f"{name}.py" for name in NOTEBOOKS])
    project = copy_project(tmp_path / "project", notebooks=notebooks)
    pipelines = project / "stacks" / "pipelines"
    other = (pipelines / f"{NAME}.yaml").read_text().replace(f"name: {NAME}", "name: pl-other")
    (pipelines / "pl-other.yaml").write_text(other)
    stack_file = project / "Pulumi.dev.yaml"
    config = yaml.safe_load(stack_file.read_text())
    config["config"]["lakehouse:laktory_root"] = "custom/root"  # slashes added by the config
    config["config"]["lakehouse:pipelines"] = [NAME]
    stack_file.write_text(yaml.safe_dump(config))

    resources = plan(project, "dev")
    (pipeline,) = of_type(resources, PIPELINE_TYPE)
    assert pipeline.name == NAME
    assert pipeline.inputs["configuration"]["laktory_root"] == "/custom/root/"
    assert {library["notebook"]["path"] for library in pipeline.inputs["libraries"]} == {
        f"/custom/root/pipelines/{NAME}/{notebook}" for notebook in NOTEBOOKS
    }
    files = {file.inputs["path"] for file in of_type(resources, FILE_TYPE)}
    assert files == {
        f"/custom/root/pipelines/{NAME}.json",
        f"/custom/root/wheels/{NAME}/{build_wheel().filename}",
    }
