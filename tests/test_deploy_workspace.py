"""The workspace around the pipeline, and dev and prod side by side in one workspace.

One project copy with a schedule added to the stock pipeline; its dev and prod plans are made
once for the module.
"""

from __future__ import annotations

from base64 import b64decode
from pathlib import Path
from typing import Any

import pulumi
import pytest
from test_deploy_support import (
    FILE_TYPE,
    NOTEBOOK_TYPE,
    PERMISSIONS_TYPE,
    PIPELINE_TYPE,
    Key,
    by_key,
    copy_project,
    of_type,
)

from laktory_pulumi.deploy.preview import GET_GROUP, OfflineMocks, PlannedResource, plan
from laktory_pulumi.loader import LoadError, load_stack
from laktory_pulumi.metadata import (
    LAKTORY_ROOT_KEY,
    PIPELINE_NAME_KEY,
    WORKSPACE_ROOT_ENV,
    read_metadata,
)

NAME = "pl-stock-prices"
JOB_TYPE = "databricks:index/job:Job"
GRANT_TYPE = "databricks:index/grant:Grant"
SCHEMA_TYPE = "databricks:index/schema:Schema"
VOLUME_TYPE = "databricks:index/volume:Volume"
SCHEDULE = """schedule:
  quartz_cron_expression: 0 0 6 * * ?
  timezone_id: Europe/Paris
readers:"""


def with_schedule(project: Path) -> Path:
    path = project / "stacks" / "pipelines" / f"{NAME}.yaml"
    text = path.read_text()
    assert "\nreaders:" in text
    path.write_text(text.replace("\nreaders:", "\n" + SCHEDULE, 1))
    return project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_schedule(copy_project(tmp_path_factory.mktemp("scheduled") / "project"))


@pytest.fixture(scope="module")
def plans(project: Path) -> dict[str, list[PlannedResource]]:
    return {stack: plan(project, stack) for stack in ("dev", "prod")}


def workspace_paths(resources: list[PlannedResource]) -> set[str]:
    """Every workspace path a plan writes or points a pipeline at."""
    paths: set[str] = set()
    for resource in resources:
        inputs = resource.inputs
        for key in ("path", "notebookPath", "workspaceFilePath"):
            if key in inputs and resource.type != VOLUME_TYPE:
                paths.add(inputs[key])
        for library in inputs.get("libraries", []) if resource.type == PIPELINE_TYPE else []:
            paths.update(kind["path"] for kind in library.values())
    return paths


def test_dev_and_prod_in_one_workspace_share_no_name_and_no_path(
    plans: dict[str, list[PlannedResource]],
) -> None:
    dev, prod = plans["dev"], plans["prod"]
    pipeline_names = [{r.inputs["name"] for r in of_type(p, PIPELINE_TYPE)} for p in (dev, prod)]
    assert pipeline_names == [{f"[dev] {NAME}"}, {NAME}]
    job_names = [{r.inputs["name"] for r in of_type(p, JOB_TYPE)} for p in (dev, prod)]
    assert job_names == [{f"[dev] {NAME}"}, {NAME}]
    cluster_names = [
        {r.inputs["clusterName"] for r in of_type(p, "databricks:index/cluster:Cluster")}
        for p in (dev, prod)
    ]
    assert not cluster_names[0] & cluster_names[1]
    dev_paths, prod_paths = workspace_paths(dev), workspace_paths(prod)
    assert dev_paths and prod_paths
    assert not dev_paths & prod_paths
    assert all(path.startswith("/.laktory/dev/") for path in dev_paths)
    assert all(path.startswith("/.laktory/prod/") for path in prod_paths)


def test_each_stacks_notebooks_read_their_own_metadata_in_the_shared_workspace(
    plans: dict[str, list[PlannedResource]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both stacks' files in one workspace folder, as two deploys to one workspace leave them.
    for resources in plans.values():
        for resource in [*of_type(resources, FILE_TYPE), *of_type(resources, NOTEBOOK_TYPE)]:
            target = tmp_path / resource.inputs["path"].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b64decode(resource.inputs["contentBase64"]))
    monkeypatch.setenv(WORKSPACE_ROOT_ENV, str(tmp_path))
    for stack, resources in plans.items():
        (pipeline,) = of_type(resources, PIPELINE_TYPE)
        configuration = pipeline.inputs["configuration"]
        # What a notebook of this pipeline finds in `spark.conf`: the planned configuration.
        model = read_metadata(configuration[PIPELINE_NAME_KEY], configuration[LAKTORY_ROOT_KEY])
        assert model.catalog == stack
        assert model.configuration["landing_root"] == f"/Volumes/{stack}/sources/landing"
        for notebook in of_type(resources, NOTEBOOK_TYPE):
            source = b64decode(notebook.inputs["contentBase64"]).decode()
            assert f"%pip install /Workspace/.laktory/{stack}/wheels/{NAME}/" in source


def test_the_stock_dev_plan_holds_its_schema_volume_grants_and_job(
    plans: dict[str, list[PlannedResource]],
) -> None:
    resources = by_key(plans["dev"])
    assert resources[(SCHEMA_TYPE, "dev.finance")].inputs == {
        "catalogName": "dev",
        "name": "finance",
        "comment": "Managed by laktory-pulumi.",
    }
    # The landing volume of `landing_root: /Volumes/dev/sources/landing`, and its schema.
    assert resources[(SCHEMA_TYPE, "dev.sources")].inputs["name"] == "sources"
    assert resources[(VOLUME_TYPE, "dev.sources.landing")].inputs == {
        "catalogName": "dev",
        "schemaName": "sources",
        "name": "landing",
        "volumeType": "MANAGED",
        "comment": "Landing files of laktory-pulumi pipelines.",
    }
    grants = {r.name: r.inputs for r in of_type(plans["dev"], GRANT_TYPE)}
    # Only on the schema the stack creates: nothing on catalog `dev`, which it does not own
    # (test_deploy_grants.py).
    assert grants == {
        "dev.finance/readers/role-engineers": {
            "schema": "dev.finance",
            "principal": "role-engineers",
            "privileges": ["SELECT", "USE_SCHEMA"],
        },
    }
    job = resources[(JOB_TYPE, f"{NAME}/schedule")]
    assert job.inputs == {
        "name": f"[dev] {NAME}",
        "maxConcurrentRuns": 1,
        "schedule": {
            "quartzCronExpression": "0 0 6 * * ?",
            "timezoneId": "Europe/Paris",
            "pauseStatus": "UNPAUSED",
        },
        "tasks": [
            {
                "taskKey": "pipeline",
                "pipelineTask": {"pipelineId": f"{NAME}-id", "fullRefresh": False},
            }
        ],
    }
    component = resources[("laktory:databricks:Pipeline", NAME)]
    assert job.parent == component.urn
    # The pipeline is created after its schema and its landing volume.
    assert {
        resources[(SCHEMA_TYPE, "dev.finance")].urn,
        resources[(VOLUME_TYPE, "dev.sources.landing")].urn,
    } <= resources[(PIPELINE_TYPE, NAME)].dependencies
    assert resources[(PIPELINE_TYPE, NAME)].urn in job.dependencies
    assert resources[(PERMISSIONS_TYPE, f"{NAME}/schedule/permissions")].inputs == {
        "jobId": f"{NAME}/schedule-id",
        "accessControls": [
            {"groupName": "account users", "permissionLevel": "CAN_VIEW"},
            {"groupName": "role-engineers", "permissionLevel": "CAN_MANAGE_RUN"},
        ],
    }


class WorkspaceWithout(OfflineMocks):
    """A workspace where some groups do not exist; records every group looked up."""

    def __init__(self, missing: set[str]) -> None:
        super().__init__()
        self.missing = missing
        self.looked_up: list[str] = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == GET_GROUP:
            self.looked_up.append(args.args["displayName"])
            if args.args["displayName"] in self.missing:
                return {}
        return super().call(args)


def test_a_missing_group_fails_the_preview_at_each_line_naming_it(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    mocks = WorkspaceWithout({"role-engineers"})
    with pytest.raises(LoadError) as raised:
        plan(project, "dev", mocks=mocks)
    pipeline_file = "stacks/pipelines/pl-stock-prices.yaml"
    lines = (project / pipeline_file).read_text().splitlines()
    permission_line = lines.index("  - group_name: role-engineers") + 1
    reader_line = lines.index("  - group_name: role-engineers", permission_line) + 1
    cluster_lines = (project / "stacks/clusters/cl-debug.yaml").read_text().splitlines()
    cluster_line = cluster_lines.index("  - group_name: role-engineers") + 1
    message = (
        "group 'role-engineers' is not in the workspace (no such group); create it or fix the name"
    )
    assert [str(error) for error in raised.value.errors] == sorted(
        [
            f"stacks/clusters/cl-debug.yaml:{cluster_line}:17: permissions[0].group_name: {message}",
            f"{pipeline_file}:{permission_line}:17: permissions[1].group_name: {message}",
            f"{pipeline_file}:{reader_line}:17: readers[0].group_name: {message}",
        ]
    )
    # Only `users` is never looked up (`account users` is, like any group); nothing was
    # registered before the check failed.
    assert mocks.looked_up == ["account users", "role-engineers"]


def test_the_stock_plan_looks_up_its_groups_and_passes() -> None:
    mocks = WorkspaceWithout(set())
    resources = plan(Path(__file__).resolve().parent.parent, "dev", mocks=mocks)
    assert mocks.looked_up == ["account users", "role-engineers"]
    assert of_type(resources, PIPELINE_TYPE)


def test_schema_managed_elsewhere_and_no_landing_volume(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    path = project / "stacks" / "pipelines" / f"{NAME}.yaml"
    path.write_text(
        path.read_text().replace(
            "\nreaders:", "\nmanage_schema: false\nmanage_landing_volume: false\nreaders:", 1
        )
    )
    resources: dict[Key, PlannedResource] = by_key(plan(project, "dev"))
    assert not [key for key in resources if key[0] in (SCHEMA_TYPE, VOLUME_TYPE)]
    # Nothing is granted on a schema someone else manages: a grant there would be authoritative
    # over privileges this stack did not give (test_deploy_grants.py).
    assert not [key for key in resources if key[0] == GRANT_TYPE]
    assert load_stack(project, "dev").pipelines[NAME].manage_schema is False
