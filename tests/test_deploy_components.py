"""The components on their own, under Pulumi's mock runtime: every model field reaches Databricks."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pulumi
import pytest
from test_deploy_support import (
    CLUSTER_TYPE,
    FILE_TYPE,
    NOTEBOOK_TYPE,
    PERMISSIONS_TYPE,
    PIPELINE_TYPE,
    by_key,
    write_notebooks,
)

from laktory_pulumi.deploy.cluster_component import ClusterComponent
from laktory_pulumi.deploy.pipeline_component import PipelineComponent
from laktory_pulumi.deploy.preview import OfflineMocks, PlannedResource, RecordingMonitor
from laktory_pulumi.deploy.secrets import SecretValues
from laktory_pulumi.models import Cluster, Pipeline

FULL_PIPELINE: dict[str, Any] = {
    "name": "pl-full",
    "storage": "abfss://lake@acct.dfs.core.windows.net/pl-full",
    "target": "sales",
    "continuous": True,
    "development": False,
    "photon": True,
    "channel": "preview",
    "edition": "pro",
    "configuration": {"region": "eu", "pipeline_name": "not-this-one"},
    "clusters": [
        {"name": "maintenance", "num_workers": 3, "node_type_id": "Standard_E4ds_v5"},
        {
            "name": "default",
            "node_type_id": "Standard_DS3_v2",
            "driver_node_type_id": "Standard_DS4_v2",
            "autoscale": {"min_workers": 1, "max_workers": 4, "mode": "enhanced"},
            "spark_conf": {"spark.sql.shuffle.partitions": "8"},
            "spark_env_vars": {"TZ": "UTC"},
            "custom_tags": {"team": "data"},
            "policy_id": "POLICY1",
            "apply_policy_default_values": True,
            "instance_pool_id": "POOL1",
            "init_scripts": [{"volumes": "/Volumes/x/y/init.sh"}, {"workspace": "/init.sh"}],
        },
    ],
    "libraries": [
        {"file": {"path": "/Shared/helpers.py"}},
        {"notebook": {"path": "/pipelines/dlt_brz_template.py"}},
        {"notebook": {"path": "/Users/me@corp.com/extra"}},
    ],
    "notifications": [{"alerts": ["on-update-failure"], "email_recipients": ["ops@corp.com"]}],
    "permissions": [
        {"user_name": "me@corp.com", "permission_level": "CAN_MANAGE"},
        {"service_principal_name": "0000-sp", "permission_level": "CAN_MANAGE"},
        {"group_name": "analysts", "permission_level": "CAN_VIEW"},
    ],
}


@pytest.fixture
def monitor() -> RecordingMonitor:
    mocks = OfflineMocks()
    recording = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="lakehouse", stack="test", monitor=recording)
    return recording


def deploy_pipeline(
    model: Pipeline, notebooks: Path, secrets: SecretValues | None = None
) -> PipelineComponent:
    """Create the component and wait, as `pulumi up` does, for every registration."""
    created: list[PipelineComponent] = []

    @pulumi.runtime.test
    def program() -> None:
        created.append(
            PipelineComponent(model, notebooks_dir=notebooks, laktory_root="/lak/", secrets=secrets)
        )

    program()
    return created[0]


def children(monitor: RecordingMonitor, type_: str) -> list[PlannedResource]:
    return [r for r in monitor.registrations if r.type == type_]


def test_every_pipeline_field_reaches_the_databricks_pipeline(
    monitor: RecordingMonitor, tmp_path: Path
) -> None:
    notebooks = write_notebooks(tmp_path / "notebooks", ["dlt_brz_template.py"])
    deploy_pipeline(Pipeline.model_validate(FULL_PIPELINE), notebooks)
    (pipeline,) = children(monitor, PIPELINE_TYPE)
    inputs = pipeline.inputs

    assert {key: inputs[key] for key in ("name", "storage", "schema", "channel", "edition")} == {
        "name": "pl-full",
        "storage": "abfss://lake@acct.dfs.core.windows.net/pl-full",
        "schema": "sales",
        "channel": "PREVIEW",
        "edition": "PRO",
    }
    assert (inputs["continuous"], inputs["development"], inputs["photon"]) == (True, False, True)
    assert "catalog" not in inputs and "target" not in inputs and "serverless" not in inputs
    # The laktory keys win over the YAML's: notebooks must find this pipeline's metadata.
    assert inputs["configuration"] == {
        "region": "eu",
        "pipeline_name": "pl-full",
        "laktory_root": "/lak/",
    }
    # Clusters sorted by label; every setting mapped, `name` as `label`.
    assert inputs["clusters"] == [
        {
            "label": "default",
            "nodeTypeId": "Standard_DS3_v2",
            "driverNodeTypeId": "Standard_DS4_v2",
            "autoscale": {"minWorkers": 1, "maxWorkers": 4, "mode": "ENHANCED"},
            "sparkConf": {"spark.sql.shuffle.partitions": "8"},
            "sparkEnvVars": {"TZ": "UTC"},
            "customTags": {"team": "data"},
            "policyId": "POLICY1",
            "applyPolicyDefaultValues": True,
            "instancePoolId": "POOL1",
            "initScripts": [
                {"volumes": {"destination": "/Volumes/x/y/init.sh"}},
                {"workspace": {"destination": "/init.sh"}},
            ],
        },
        {"label": "maintenance", "numWorkers": 3, "nodeTypeId": "Standard_E4ds_v5"},
    ]
    # The local notebook points at the pipeline's copy; the others are left as written.
    assert inputs["libraries"] == [
        {"notebook": {"path": "/Users/me@corp.com/extra"}},
        {"notebook": {"path": "/lak/pipelines/pl-full/dlt_brz_template"}},
        {"file": {"path": "/Shared/helpers.py"}},
    ]
    assert inputs["notifications"] == [
        {"alerts": ["on-update-failure"], "emailRecipients": ["ops@corp.com"]}
    ]


def test_permissions_grant_exactly_what_the_yaml_asks(
    monitor: RecordingMonitor, tmp_path: Path
) -> None:
    notebooks = write_notebooks(tmp_path / "notebooks", ["dlt_brz_template.py"])
    deploy_pipeline(Pipeline.model_validate(FULL_PIPELINE), notebooks)
    permissions = {r.name: r.inputs for r in children(monitor, PERMISSIONS_TYPE)}

    assert set(permissions) == {
        "pl-full/permissions",
        "pl-full/notebook/dlt_brz_template/permissions",
        "pl-full/metadata/permissions",
        "pl-full/wheel/permissions",
    }
    # Sorted by principal, one entry each, nobody the YAML does not name.
    assert permissions["pl-full/permissions"]["accessControls"] == [
        {"servicePrincipalName": "0000-sp", "permissionLevel": "CAN_MANAGE"},
        {"groupName": "analysts", "permissionLevel": "CAN_VIEW"},
        {"userName": "me@corp.com", "permissionLevel": "CAN_MANAGE"},
    ]
    assert permissions["pl-full/permissions"]["pipelineId"] == "pl-full-id"
    read_only = [
        {"servicePrincipalName": "0000-sp", "permissionLevel": "CAN_READ"},
        {"groupName": "analysts", "permissionLevel": "CAN_READ"},
        {"userName": "me@corp.com", "permissionLevel": "CAN_READ"},
    ]
    notebook = permissions["pl-full/notebook/dlt_brz_template/permissions"]
    assert notebook == {
        "notebookPath": "/lak/pipelines/pl-full/dlt_brz_template",
        "accessControls": read_only,
    }
    assert permissions["pl-full/metadata/permissions"] == {
        "workspaceFilePath": "/lak/pipelines/pl-full.json",
        "accessControls": read_only,
    }
    assert permissions["pl-full/wheel/permissions"]["accessControls"] == read_only


def test_a_pipeline_without_permissions_gets_no_permissions_resource(
    monitor: RecordingMonitor, tmp_path: Path
) -> None:
    model = Pipeline.model_validate({"name": "pl-open", "serverless": True, "catalog": "dev"})
    deploy_pipeline(model, tmp_path)
    assert children(monitor, PERMISSIONS_TYPE) == []
    (pipeline,) = children(monitor, PIPELINE_TYPE)
    assert pipeline.inputs["serverless"] is True
    assert "clusters" not in pipeline.inputs and "libraries" not in pipeline.inputs
    assert {r.name for r in children(monitor, FILE_TYPE)} == {"pl-open/metadata", "pl-open/wheel"}


@pulumi.runtime.test
def test_component_outputs_and_children_resolve(monitor: RecordingMonitor, tmp_path: Path) -> Any:
    notebooks = write_notebooks(tmp_path / "notebooks", ["dlt_brz_template.py"])
    component = PipelineComponent(
        Pipeline.model_validate(FULL_PIPELINE), notebooks_dir=notebooks, laktory_root="/lak/"
    )
    assert component.metadata_path == "/lak/pipelines/pl-full.json"
    assert component.notebook_paths == ["/lak/pipelines/pl-full/dlt_brz_template"]
    notebook = component.artifacts["notebook/dlt_brz_template"]

    def check(values: list[Any]) -> None:
        pipeline_id, labels, language, content, path = values
        assert pipeline_id == "pl-full-id"
        assert labels == ["default", "maintenance"]
        assert language == "PYTHON"
        assert path == "/lak/pipelines/pl-full/dlt_brz_template"
        assert b"%pip install /Workspace/lak/wheels/pl-full/" in base64.b64decode(content)

    return pulumi.Output.all(
        component.pipeline_id,
        component.pipeline.clusters.apply(lambda clusters: [c.label for c in clusters]),
        notebook.language,  # type: ignore[attr-defined]
        notebook.content_base64,  # type: ignore[attr-defined]
        notebook.path,  # type: ignore[attr-defined]
    ).apply(check)


def test_a_secret_value_is_secret_wherever_it_lands(
    monitor: RecordingMonitor, tmp_path: Path
) -> None:
    notebooks = write_notebooks(tmp_path / "notebooks", ["dlt_brz_template.py"])
    model = Pipeline.model_validate(
        {
            "name": "pl-s",
            "catalog": "dev",
            "configuration": {"api_token": "s3cr3t-value"},
            "libraries": [{"notebook": {"path": "/pipelines/dlt_brz_template.py"}}],
        }
    )
    deploy_pipeline(model, notebooks, SecretValues.of([{"api_token": "s3cr3t-value"}]))
    resources = by_key(monitor.registrations)

    pipeline = resources[(PIPELINE_TYPE, "pl-s")]
    assert pipeline.secret_inputs == {"configuration"}
    assert pipeline.inputs["configuration"]["api_token"] == "s3cr3t-value"
    assert resources[(FILE_TYPE, "pl-s/metadata")].secret_inputs == {"contentBase64"}
    # What holds no secret stays readable.
    assert resources[(FILE_TYPE, "pl-s/wheel")].secret_inputs == frozenset()
    assert resources[(NOTEBOOK_TYPE, "pl-s/notebook/dlt_brz_template")].secret_inputs == frozenset()


def test_a_standalone_cluster_maps_every_field_and_its_permissions(
    monitor: RecordingMonitor,
) -> None:
    model = Cluster.model_validate(
        {
            "name": "cl-x",
            "spark_version": "16.4.x-scala2.12",
            "node_type_id": "Standard_DS3_v2",
            "autoscale": {"min_workers": 1, "max_workers": 3},
            "autotermination_minutes": 15,
            "data_security_mode": "single_user",
            "single_user_name": "me@corp.com",
            "spark_env_vars": {"TZ": "UTC"},
            "init_scripts": [{"volumes": "/Volumes/x/y/init.sh"}],
            "permissions": [
                {"user_name": "zoe@corp.com", "permission_level": "CAN_MANAGE"},
                {"group_name": "engineers", "permission_level": "CAN_ATTACH_TO"},
            ],
        }
    )

    @pulumi.runtime.test
    def program() -> None:
        ClusterComponent(model)

    program()
    resources = by_key(monitor.registrations)
    assert resources[(CLUSTER_TYPE, "cl-x")].inputs == {
        "clusterName": "cl-x",
        "sparkVersion": "16.4.x-scala2.12",
        "nodeTypeId": "Standard_DS3_v2",
        "autoscale": {"minWorkers": 1, "maxWorkers": 3},
        "autoterminationMinutes": 15,
        "dataSecurityMode": "SINGLE_USER",
        "singleUserName": "me@corp.com",
        "sparkEnvVars": {"TZ": "UTC"},
        "initScripts": [{"volumes": {"destination": "/Volumes/x/y/init.sh"}}],
    }
    assert resources[(PERMISSIONS_TYPE, "cl-x/permissions")].inputs == {
        "clusterId": "cl-x-id",
        "accessControls": [
            {"groupName": "engineers", "permissionLevel": "CAN_ATTACH_TO"},
            {"userName": "zoe@corp.com", "permissionLevel": "CAN_MANAGE"},
        ],
    }
    assert resources[(CLUSTER_TYPE, "cl-x")].parent == (
        resources[("laktory:databricks:Cluster", "cl-x")].urn
    )
