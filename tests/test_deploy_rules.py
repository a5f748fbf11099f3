"""What a real workspace enforces at `pulumi up`, refused or handled at `preview` (issue 17).

Each test names the provider or documentation line its rule encodes. The workspace is Pulumi's
mock runtime: `Workspace` answers the program's data-source lookups (catalog, schema, volume,
pipelines by name) and the stack reference to its own last outputs, as a real workspace and
backend would. Validation rules with a one-line YAML example are in tests/data/invalid
(EXPECTED.yaml, with their sources).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from test_deploy_support import (
    CLUSTER_TYPE,
    PIPELINE_TYPE,
    REPO,
    by_key,
    copy_project,
    of_type,
)

from laktory_pulumi.deploy.catalog_plan import landing_volume
from laktory_pulumi.deploy.cluster_args import pipeline_cluster_args, standalone_cluster_args
from laktory_pulumi.deploy.preview import (
    GET_PIPELINES,
    GET_SCHEMAS,
    GET_VOLUMES,
    OfflineMocks,
    PlannedResource,
    plan,
)
from laktory_pulumi.deploy.wheel import OFFLINE_LTS_RUNTIMES
from laktory_pulumi.loader import LoadError, load_stack
from laktory_pulumi.models import Cluster, Pipeline, PipelineCluster, RuleViolation

NAME = "pl-stock-prices"
PIPELINE_FILE = f"stacks/pipelines/{NAME}.yaml"
GRANT_TYPE = "databricks:index/grant:Grant"
SCHEMA_TYPE = "databricks:index/schema:Schema"
VOLUME_TYPE = "databricks:index/volume:Volume"
STOCK_TABLES = [
    "brz_stock_metadata",
    "brz_stock_prices",
    "gld_stock_performances",
    "slv_star_stock_prices",
    "slv_stock_metadata",
    "slv_stock_prices",
]


class Workspace(OfflineMocks):
    """A workspace holding some objects, and a stack whose last update left `previous`."""

    def __init__(
        self,
        *,
        catalogs: set[str] | None = None,
        schemas: set[str] = frozenset(),  # type: ignore[assignment]
        volumes: set[str] = frozenset(),  # type: ignore[assignment]
        pipelines: dict[str, list[str]] | None = None,
        previous: dict[str, Any] | None = None,
    ) -> None:
        super().__init__({"deployed": previous} if previous is not None else None, catalogs)
        self.schemas = schemas
        self.volumes = volumes
        self.pipelines = pipelines or {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        # The list data sources answer as the provider's do (catalog/data_schemas.go,
        # data_volumes.go: full names; pipelines/data_pipelines.go: ids).
        if args.token == GET_SCHEMAS:
            prefix = f"{args.args['catalogName']}."
            return {"id": "s", "ids": sorted(s for s in self.schemas if s.startswith(prefix))}
        if args.token == GET_VOLUMES:
            prefix = f"{args.args['catalogName']}.{args.args['schemaName']}."
            return {"id": "v", "ids": sorted(v for v in self.volumes if v.startswith(prefix))}
        if args.token == GET_PIPELINES:
            return {"id": "pipelines", "ids": self.pipelines.get(args.args["pipelineName"], [])}
        return super().call(args)


def line_of(project: Path, text: str, file: str = PIPELINE_FILE) -> int:
    return (project / file).read_text().splitlines().index(text) + 1


def errors_of(project: Path, stack: str, mocks: Workspace) -> list[str]:
    with pytest.raises(LoadError) as raised:
        plan(project, stack, mocks=mocks)
    return [str(error) for error in raised.value.errors]


@pytest.fixture(scope="module")
def dev() -> tuple[list[PlannedResource], list[str]]:
    notices: list[str] = []
    return plan(REPO, "dev", notices=notices), notices


# 1. Grants only on what the stack creates.


def test_the_stock_dev_plan_grants_only_on_securables_it_creates(
    dev: tuple[list[PlannedResource], list[str]],
) -> None:
    # terraform-provider-databricks docs/resources/grant.md line 12: a databricks_grant "will
    # OVERWRITE any existing grants for the principal"; catalog/resource_grant.go
    # `replacePermissionsForPrincipal` removes, on delete, every privilege of the principal on
    # the securable. On a securable this stack creates, both only touch what it gave.
    resources, notices = dev
    created_schemas = {
        f"{r.inputs['catalogName']}.{r.inputs['name']}" for r in of_type(resources, SCHEMA_TYPE)
    }
    grants = of_type(resources, GRANT_TYPE)
    assert grants, "the stock YAML has a reader"
    for grant in grants:
        securables = {
            key for key in ("catalog", "schema", "volume", "table") if key in grant.inputs
        }
        assert securables == {"schema"}, grant.name
        assert grant.inputs["schema"] in created_schemas
    # What destroying dev revokes: exactly these grants, all on schemas it also deletes.
    assert {(g.inputs["schema"], g.inputs["principal"]) for g in grants} == {
        ("dev.finance", "role-engineers")
    }
    # The catalog's admins are told what the reader still needs, at the reader's line; and
    # the silver table's tags wait for the table (tests/test_table_tags.py).
    reader_line = line_of(REPO, "readers:") + 1
    tags_line = line_of(REPO, "      data_owner: finance")
    assert notices == [
        f"notice: {PIPELINE_FILE}:{reader_line}:17: readers[0].group_name: 'role-engineers' can "
        "query these tables once an owner of what this stack does not create runs: GRANT USE "
        "CATALOG ON CATALOG `dev` TO `role-engineers` (or list the principal under "
        "authoritative_catalog_grants)",
        f"notice: {PIPELINE_FILE}:{tags_line}:7: tables[2].tags: table "
        "dev.finance.slv_stock_prices does not exist yet: the pipeline's first update creates "
        "it, and the next `pulumi up` assigns its tags",
    ]


def test_an_authoritative_catalog_grant_is_opt_in_and_complete(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    path = project / PIPELINE_FILE
    path.write_text(
        path.read_text().replace(
            "\nreaders:",
            "\nauthoritative_catalog_grants:\n  - group_name: role-engineers\n"
            "    privileges: [use catalog, BROWSE]\nreaders:",
            1,
        )
    )
    notices: list[str] = []
    resources = by_key(plan(project, "dev", notices=notices))
    grant = resources[(GRANT_TYPE, "dev/authoritative/role-engineers")]
    # The principal's whole list on the catalog, as the YAML declares it.
    assert grant.inputs == {
        "catalog": "dev",
        "principal": "role-engineers",
        "privileges": ["BROWSE", "USE_CATALOG"],
    }
    assert not grant.protect
    # USE CATALOG is now given: no notice asks an admin for it.
    assert not [notice for notice in notices if "USE CATALOG" in notice]


def test_two_pipelines_giving_one_principal_two_lists_on_a_catalog_fail(tmp_path: Path) -> None:
    # Each databricks_grant overwrites the principal's list (grant.md line 12): two lists for one
    # principal on one catalog would undo each other on every deploy.
    project = copy_project(tmp_path / "project")
    grants = "authoritative_catalog_grants:\n  - group_name: analysts\n    privileges: [{}]\n"
    path = project / PIPELINE_FILE
    path.write_text(
        path.read_text().replace("\nreaders:", "\n" + grants.format("USE_CATALOG") + "readers:", 1)
    )
    (project / "stacks/pipelines/pl-other.yaml").write_text(
        "name: pl-other\ncatalog: ${vars.catalog}\ntarget: other\n" + grants.format("BROWSE")
    )
    (error,) = errors_of(project, "dev", Workspace())
    line = line_of(project, "authoritative_catalog_grants:") + 1
    assert error == (
        f"{PIPELINE_FILE}:{line}:17: authoritative_catalog_grants[0].group_name: "
        "pipeline pl-other gives 'analysts' another complete list on catalog dev (BROWSE): give "
        "one list"
    )


# 2. Principals.


def test_admins_cannot_be_in_a_cluster_acl() -> None:
    # permission_definitions.go `validate`, line 125: "it is not possible to modify admin
    # permissions for clusters resources".
    with pytest.raises(ValueError, match="'admins' always has full control"):
        Cluster.model_validate(
            {
                "name": "c",
                "spark_version": "17.3.x-scala2.13",
                "permissions": [{"group_name": "admins", "permission_level": "CAN_MANAGE"}],
            }
        )


def test_admins_cannot_be_a_reader() -> None:
    # Databricks SQL reference, "Principal": workspace-local groups get no Unity Catalog
    # privilege; `admins` is one.
    with pytest.raises(RuleViolation, match="'admins' is a workspace-local system group"):
        Pipeline.model_validate(
            {"name": "p", "catalog": "c", "target": "s", "readers": [{"group_name": "admins"}]}
        )


# 3. Pipeline and cluster API rules.


def test_serverless_sends_no_photon_flag() -> None:
    # Serverless compute is Databricks-managed, Photon included (docs.databricks.com, "Configure
    # a serverless pipeline": "Serverless pipelines remove most configuration options"); classic
    # compute keeps the YAML's flag.
    from laktory_pulumi.deploy.pipeline_args import pipeline_resource_args

    serverless = Pipeline.model_validate({"name": "p", "catalog": "c", "serverless": True})
    assert pipeline_resource_args(serverless, "/r/", lambda path: path)["photon"] is None
    classic = Pipeline.model_validate({"name": "p", "catalog": "c", "photon": True})
    assert pipeline_resource_args(classic, "/r/", lambda path: path)["photon"] is True


def test_a_single_node_pipeline_cluster_carries_the_profile_the_provider_needs() -> None:
    # pipelines/resource_pipeline.go `adjustForceSendFields`, line 32: num_workers 0 is sent only
    # when spark_conf sets spark.databricks.cluster.profile to singleNode; otherwise the zero is
    # dropped and DLT autoscales.
    args = pipeline_cluster_args(PipelineCluster.model_validate({"num_workers": 0}))
    assert args.num_workers == 0
    assert args.spark_conf["spark.databricks.cluster.profile"] == "singleNode"
    assert args.custom_tags == {"ResourceClass": "SingleNode"}
    # A sized cluster gets none of it.
    sized = pipeline_cluster_args(PipelineCluster.model_validate({"num_workers": 2}))
    assert sized.spark_conf is None and sized.custom_tags is None


def test_a_single_node_standalone_cluster_is_configured_as_the_docs_say() -> None:
    # docs.databricks.com/compute/single-node.html: the singleNode profile, spark.master
    # local[*] and the ResourceClass SingleNode tag.
    cluster = Cluster.model_validate(
        {"name": "c", "spark_version": "17.3.x-scala2.13", "num_workers": 0}
    )
    args = standalone_cluster_args(cluster)
    assert args["spark_conf"] == {
        "spark.databricks.cluster.profile": "singleNode",
        "spark.master": "local[*]",
    }
    assert args["custom_tags"] == {"ResourceClass": "SingleNode"}


# 4. Prerequisites looked up at preview.


def test_a_missing_catalog_fails_the_preview_at_the_catalog_line(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    mocks = Workspace(catalogs={"prod"})
    assert errors_of(project, "dev", mocks) == [
        f"{PIPELINE_FILE}:{line_of(project, 'catalog: ${vars.catalog}')}:10: catalog: catalog "
        "'dev' is not in the metastore (or the deploying identity cannot use it); the stack "
        "does not create catalogs: ask an admin to create it, or set another"
    ]


def test_a_schema_volume_or_pipeline_another_stack_holds_fails_the_preview(
    tmp_path: Path,
) -> None:
    # Unity Catalog refuses to create an existing schema or volume ("already exists"), and DLT a
    # second pipeline of one name (allow_duplicate_names).
    project = copy_project(tmp_path / "project")
    mocks = Workspace(
        schemas={"dev.finance", "dev.sources"},
        volumes={"dev.sources.landing"},
        pipelines={f"[dev] {NAME}": ["0000-other"]},
    )
    errors = errors_of(project, "dev", mocks)
    target_line = line_of(project, "target: finance")
    landing_line = line_of(project, "  landing_root: ${vars.landing_root}")
    name_line = line_of(project, f"name: {NAME}")
    # By line: the pipeline's name, its target schema, the landing volume's schema and volume.
    assert [error.split(": ", 2)[:2] for error in errors] == [
        [f"{PIPELINE_FILE}:{name_line}:7", "name"],
        [f"{PIPELINE_FILE}:{target_line}:9", "target"],
        [f"{PIPELINE_FILE}:{landing_line}:17", "configuration.landing_root"],
        [f"{PIPELINE_FILE}:{landing_line}:17", "configuration.landing_root"],
    ]
    assert "a pipeline named '[dev] pl-stock-prices' already exists" in errors[0]
    assert "schema 'dev.finance' already exists and this stack did not create it" in errors[1]
    assert "schema 'dev.sources' already exists" in errors[2]
    assert "volume 'dev.sources.landing' already exists" in errors[3]


def test_what_this_stack_created_last_time_is_its_own(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    mocks = Workspace(
        schemas={"dev.finance", "dev.sources"},
        volumes={"dev.sources.landing"},
        pipelines={f"[dev] {NAME}": ["0000-ours"]},
        previous={
            "tables": {NAME: STOCK_TABLES},
            "pipeline_ids": {NAME: "0000-ours"},
            "schemas": ["dev.finance", "dev.sources"],
            "volumes": ["dev.sources.landing"],
        },
    )
    assert of_type(plan(project, "dev", mocks=mocks), PIPELINE_TYPE)


DEVELOPER_STACK = """config:
  lakehouse:protect: false
  lakehouse:vars:
    catalog: {name}
    landing_root: /Volumes/{name}/sources/landing
    min_workers: 1
    max_workers: 2
    development: true
"""


def test_two_developer_stacks_plan_disjoint_names_and_paths(tmp_path: Path) -> None:
    """docs/deploy.md, "A stack per developer": a copy of Pulumi.dev.yaml naming the
    developer's catalog; the stack name gives the name prefix and the laktory root."""
    project = copy_project(tmp_path / "project")
    recipe = (REPO / "docs" / "deploy.md").read_text()
    assert DEVELOPER_STACK.format(name="alice") in recipe
    for developer in ("alice", "bob"):
        (project / f"Pulumi.{developer}.yaml").write_text(DEVELOPER_STACK.format(name=developer))
    plans = {stack: plan(project, stack) for stack in ("dev", "alice", "bob")}

    def owned(resources: list[PlannedResource]) -> set[str]:
        names: set[str] = set()
        for resource in resources:
            inputs = resource.inputs
            if resource.type in (SCHEMA_TYPE, VOLUME_TYPE):
                parts = [inputs["catalogName"], inputs.get("schemaName"), inputs["name"]]
                names.add(".".join(part for part in parts if part))
            for key in ("path", "name", "clusterName"):
                if (
                    key in inputs
                    and resource.custom
                    and resource.type not in (SCHEMA_TYPE, VOLUME_TYPE)
                ):
                    names.add(f"{key}:{inputs[key]}")
        return names

    for first, second in (("dev", "alice"), ("dev", "bob"), ("alice", "bob")):
        assert not owned(plans[first]) & owned(plans[second]), (first, second)
    assert {"alice.finance", "alice.sources.landing"} <= owned(plans["alice"])
    assert f"name:[bob] {NAME}" in owned(plans["bob"])
    # The debug cluster stays dev's.
    assert not of_type(plans["alice"], CLUSTER_TYPE)


# 5. Tables are protected like data.


def previous_with(tables: list[str]) -> dict[str, Any]:
    return {
        "tables": {NAME: tables},
        "pipeline_ids": {NAME: "0000-ours"},
        "schemas": ["prod.finance", "prod.sources"],
        "volumes": ["prod.sources.landing"],
    }


def test_a_protected_stack_refuses_an_update_dropping_a_table(tmp_path: Path) -> None:
    # DLT release notes 2024.49: removing a table's definition from the pipeline deletes it.
    project = copy_project(tmp_path / "project")
    mocks = Workspace(previous=previous_with([*STOCK_TABLES, "slv_stock_quotes"]))
    tables_line = line_of(project, "tables:")
    assert errors_of(project, "prod", mocks) == [
        f"{PIPELINE_FILE}:{tables_line + 1}:3: tables: the stack is protected and this update "
        "would drop slv_stock_quotes (DLT drops a table its pipeline no longer defines): restore "
        "the table, or list it under allow_dropping_tables"
    ]
    # Listed as allowed to go, it passes, and the preview names it.
    path = project / PIPELINE_FILE
    path.write_text(
        path.read_text().replace(
            "\ntables:", "\nallow_dropping_tables: [slv_stock_quotes]\ntables:"
        )
    )
    notices: list[str] = []
    assert of_type(plan(project, "prod", mocks=mocks, notices=notices), PIPELINE_TYPE)
    assert [notice for notice in notices if "drops" in notice] == [
        f"notice: {PIPELINE_FILE}:{tables_line + 2}:3: tables: this update drops table(s) "
        "prod.finance.slv_stock_quotes with their data (removed from the YAML)"
    ]


def test_an_unprotected_stack_names_the_tables_an_update_drops(tmp_path: Path) -> None:
    mocks = Workspace(
        previous={
            "tables": {NAME: [*STOCK_TABLES, "gld_old"]},
            "pipeline_ids": {NAME: "0000-ours"},
        }
    )
    notices: list[str] = []
    plan(REPO, "dev", mocks=mocks, notices=notices)
    assert [notice for notice in notices if "drops" in notice] == [
        f"notice: {PIPELINE_FILE}:{line_of(REPO, 'tables:') + 1}:3: tables: this update drops "
        "table(s) dev.finance.gld_old with their data (removed from the YAML)"
    ]


def test_a_pipeline_no_longer_deployed_is_named_with_its_tables() -> None:
    mocks = Workspace(previous={"tables": {NAME: STOCK_TABLES, "pl-gone": ["gld_x"]}})
    notices: list[str] = []
    plan(REPO, "prod", mocks=mocks, notices=notices)
    assert [notice for notice in notices if "pl-gone" in notice] == [
        "notice: Pulumi.prod.yaml:1:1: pipelines: pipeline pl-gone is no longer deployed: "
        "deleting it drops its tables (gld_x) (the stack is protected: pulumi up refuses it)"
    ]


def test_the_plan_records_what_the_next_run_compares_with(
    dev: tuple[list[PlannedResource], list[str]],
) -> None:
    resources, _ = dev
    exports = next(r for r in resources if r.type == "pulumi:pulumi:Stack").outputs
    assert exports["deployed"] == {
        "tables": {NAME: STOCK_TABLES},
        "pipeline_ids": {NAME: f"{NAME}-id"},
        "schemas": ["dev.finance", "dev.sources"],
        "volumes": ["dev.sources.landing"],
        "table_tags": [],  # the silver table does not exist yet (tests/test_table_tags.py)
    }


# 6. The debug cluster.


def test_a_cluster_naming_an_unknown_stack_fails_the_preview(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    path = project / "stacks/clusters/cl-debug.yaml"
    path.write_text(path.read_text().replace("stacks: [dev]", "stacks: [dve]"))
    line = line_of(project, "stacks: [dve]", "stacks/clusters/cl-debug.yaml")
    assert errors_of(project, "dev", Workspace()) == [
        f"stacks/clusters/cl-debug.yaml:{line}:10: stacks[0]: no stack 'dve' in this project "
        "(Pulumi.dve.yaml); stacks: dev, prod"
    ]


def test_the_debug_cluster_is_dev_only_on_a_runtime_meeting_the_wheel() -> None:
    # deploy/wheel.py LTS_RUNTIME_PACKAGES, from databricks/environments constraints: only
    # these runtimes install the wheel without PyPI.
    cluster = load_stack(REPO, "dev").clusters["cl-debug"]
    assert cluster.spark_version in OFFLINE_LTS_RUNTIMES
    assert cluster.stacks == ["dev"]
    assert not of_type(plan(REPO, "prod"), CLUSTER_TYPE)


def test_the_landing_volume_is_planned_for_every_landed_source_and_no_stream() -> None:
    # A pipeline reading landed files needs its landing volume before its first update (Auto
    # Loader fails on a path that does not exist); a stream lands nothing there.
    def pipeline(*tables: dict[str, Any]) -> Pipeline:
        return Pipeline.model_validate(
            {
                "name": "p",
                "catalog": "c",
                "target": "s",
                "configuration": {"landing_root": "/Volumes/c/s/landing/"},
                "tables": list(tables),
            }
        )

    orders = {"name": "order", "producer": {"name": "shop"}}
    kafka = {
        "name": "click",
        "type": "STREAM_KAFKA",
        "kafka": {"bootstrap_servers": "broker:9092", "topics": ["clicks"]},
        "value_format": "string",
    }
    several = {
        "name": "brz_orders",
        "builder": {
            "layer": "BRONZE",
            "event_sources": [orders, orders | {"producer": {"name": "web"}}],
        },
    }
    stream = {"name": "brz_clicks", "builder": {"layer": "BRONZE", "event_source": kafka}}
    assert landing_volume(pipeline(several)) == ("c", "s", "landing")
    assert landing_volume(pipeline(stream)) is None
    assert landing_volume(pipeline(stream, several)) == ("c", "s", "landing")
