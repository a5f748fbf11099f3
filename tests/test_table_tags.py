"""A table's `tags` (issue #19): Unity Catalog tags, one `databricks.EntityTagAssignment` per
tag of a table the workspace holds, a child of the pipeline's component; a table the pipeline
has not created yet gets a located notice and no assignment, so `pulumi up` never fails
half-way (`deploy.table_tags`, which cites the provider's rules)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from test_deploy_support import PIPELINE_TYPE, copy_project, of_type

from laktory_pulumi.deploy.preview import (
    GET_SCHEMAS,
    GET_TABLES,
    OfflineMocks,
    plan,
)
from laktory_pulumi.loader import LoadError
from laktory_pulumi.models import Pipeline

TAG_TYPE = "databricks:index/entityTagAssignment:EntityTagAssignment"
GET_TAGS = "databricks:index/getEntityTagAssignments:getEntityTagAssignments"
SILVER = "dev.finance.slv_stock_prices"
FILE = "stacks/pipelines/pl-stock-prices.yaml"


class WorkspaceWith(OfflineMocks):
    """A workspace holding the stock pipeline's schema and these tables."""

    def __init__(self, tables: set[str], tags: dict[str, list[str]] | None = None) -> None:
        super().__init__()
        self.tables = tables
        self.tags = tags or {}
        self.listed: list[tuple[str, str]] = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == GET_TAGS:
            table = args.args["entityName"]
            return {
                "entityName": table,
                "entityType": "tables",
                "tagAssignments": [
                    {
                        "entityName": table,
                        "entityType": "tables",
                        "sourceType": "TAG_ASSIGNMENT_SOURCE_TYPE_UNSPECIFIED",
                        "tagKey": key,
                        "tagValue": "x",
                        "updateTime": "2026-01-01T00:00:00Z",
                        "updatedBy": "someone",
                    }
                    for key in self.tags.get(table, [])
                ],
            }
        if args.token == GET_SCHEMAS:
            return {"id": "schemas", "ids": ["dev.finance"]}
        if args.token == GET_TABLES:
            self.listed.append((args.args["catalogName"], args.args["schemaName"]))
            return {"id": "tables", "ids": sorted(self.tables)}
        return super().call(args)


def _previous(tmp_path: Path) -> Path:
    """The stock project, deployed before (its schema and volume are its own)."""
    return copy_project(tmp_path / "project")


def test_each_tag_of_an_existing_table_is_an_assignment_under_the_pipeline(
    tmp_path: Path,
) -> None:
    mocks = WorkspaceWith({SILVER, "dev.finance.brz_stock_prices"})
    mocks.previous = {"deployed": {"schemas": ["dev.finance"], "volumes": ["dev.sources.landing"]}}
    notices: list[str] = []
    resources = plan(_previous(tmp_path), "dev", mocks=mocks, notices=notices)
    assert mocks.listed == [("dev", "finance")]
    (tag,) = of_type(resources, TAG_TYPE)
    assert tag.name == "pl-stock-prices/table/slv_stock_prices/tag/data_owner"
    assert tag.inputs == {
        "entityType": "tables",
        "entityName": SILVER,
        "tagKey": "data_owner",
        "tagValue": "finance",
    }
    (pipeline,) = of_type(resources, PIPELINE_TYPE)
    assert tag.parent == pipeline.parent  # the pipeline component's child, as the pipeline
    assert not tag.protect  # a tag holds no data
    assert not [notice for notice in notices if "tags" in notice]
    exports = next(r for r in resources if r.type == "pulumi:pulumi:Stack").outputs
    assert exports["deployed"]["table_tags"] == [f"{SILVER}/data_owner"]


def test_a_tag_the_table_has_from_elsewhere_is_refused_before_anything_is_created(
    tmp_path: Path,
) -> None:
    """Creating it again would fail `pulumi up` half-way; adopting it would make this stack
    remove a tag it never gave. One this stack assigned (its deployed record) is its own."""
    deployed = {"schemas": ["dev.finance"], "volumes": ["dev.sources.landing"]}
    mocks = WorkspaceWith({SILVER}, {SILVER: ["data_owner"]})
    mocks.previous = {"deployed": deployed}
    project = _previous(tmp_path)
    with pytest.raises(LoadError) as raised:
        plan(project, "dev", mocks=mocks)
    lines = (project / FILE).read_text().splitlines()
    line = lines.index("      data_owner: finance") + 1
    (error,) = [str(error) for error in raised.value.errors]
    assert error.startswith(f"{FILE}:{line}:")
    assert (
        "tables[2].tags: table dev.finance.slv_stock_prices already has the tag 'data_owner'"
        in error
    )
    mocks.previous = {"deployed": {**deployed, "table_tags": [f"{SILVER}/data_owner"]}}
    assert of_type(plan(project, "dev", mocks=mocks), TAG_TYPE)


def test_a_table_not_created_yet_gets_a_notice_and_no_assignment(tmp_path: Path) -> None:
    notices: list[str] = []
    mocks = WorkspaceWith(set())
    mocks.previous = {"deployed": {"schemas": ["dev.finance"], "volumes": ["dev.sources.landing"]}}
    project = _previous(tmp_path)
    resources = plan(project, "dev", mocks=mocks, notices=notices)
    assert not of_type(resources, TAG_TYPE)
    lines = (project / FILE).read_text().splitlines()
    line = lines.index("      data_owner: finance") + 1  # the mapping, at its first key
    (notice,) = [notice for notice in notices if "assigns its tags" in notice]
    assert f"{FILE}:{line}:" in notice and "tables[2].tags: table " in notice
    assert "the next `pulumi up` assigns its tags" in notice


def _pipeline(**changes: Any) -> dict[str, Any]:
    return {
        "name": "pl-tags",
        "catalog": "dev",
        "target": "t",
        "tables": [
            {
                "name": "brz",
                "builder": {
                    "layer": "BRONZE",
                    "event_source": {"name": "e", "schema_ddl": "a INT"},
                },
                "tags": {"owner": "team"},
                **changes,
            }
        ],
    }


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ({**_pipeline(), "catalog": None}, "tags are Unity Catalog's: set the pipeline's catalog"),
        (_pipeline(private=True), "a private table is not published to the catalog"),
        (_pipeline(tags={"x" * 256: "v"}), "a tag key has 1 to 255 characters"),
    ],
)
def test_tags_that_cannot_be_assigned_are_refused(pipeline: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        Pipeline.model_validate(pipeline)
