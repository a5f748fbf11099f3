"""A table's `tags`, assigned by the deploy once the table exists.

DLT's table definitions take no tags (`dlt.table` and `create_streaming_table` have no such
argument), and `ALTER TABLE ... SET TAGS` is refused inside a pipeline, so each tag is a
`databricks.EntityTagAssignment` (Terraform's `databricks_entity_tag_assignment`), a child of
the pipeline's component. Its rules, from the provider's source
(terraform-provider-databricks, internal/providers/pluginfw/products/entity_tag_assignment/
resource_entity_tag_assignment.go):

- `entity_type`, `entity_name` and `tag_key` force a new assignment (`RequiresReplace`); only
  `tag_value` is updated in place (`UpdateMask: "tag_value"`), so a changed value never
  replaces;
- creating it on a table that does not exist fails, and reading one whose table is gone drops
  it from the state (`apierr.IsMissing`), so it is created again once the table is back.

The pipeline creates its tables at its first update, after `pulumi up`: a table the workspace
does not hold yet (`databricks.get_tables`, which lists a schema's tables, streaming tables and
materialized views, views aside: catalog/data_tables.go) gets no assignment, and a located
notice says the next `pulumi up` applies its tags. A key the table already has, which this
stack did not assign (by hand, another stack), is refused at its line before anything is
created: creating it again would fail `pulumi up` half-way, and adopting it would make this
stack remove a tag it never gave.
"""

from __future__ import annotations

from ..loader import LocatedError, Stack
from ..models import Pipeline
from .deployed import Deployment
from .prerequisites import WorkspaceLookups

ENTITY_TYPE = "tables"


def full_name(pipeline: Pipeline, table: str) -> str:
    return f"{pipeline.catalog}.{pipeline.target}.{table}".lower()


def existing_tables(pipeline: Pipeline, lookups: WorkspaceLookups) -> frozenset[str]:
    """The full names of the pipeline's schema's tables, when one of its tables has tags
    (no lookup otherwise); empty when the catalog or the schema does not exist yet (a lookup
    of a missing schema would fail the program)."""
    if not any(table.tags for table in pipeline.tables) or not pipeline.catalog:
        return frozenset()
    if pipeline.catalog not in lookups.catalogs():
        return frozenset()
    if f"{pipeline.catalog}.{pipeline.target}" not in lookups.schemas(pipeline.catalog):
        return frozenset()
    return frozenset(name.lower() for name in lookups.tables(pipeline.catalog, pipeline.target))


def pending_tag_notices(stack: Stack, existing: dict[str, frozenset[str]]) -> list[LocatedError]:
    """A notice at the `tags` of each tagged table the workspace does not hold yet."""
    notices: list[LocatedError] = []
    for name, pipeline in sorted(stack.pipelines.items()):
        for index, table in enumerate(pipeline.tables):
            if table.tags and full_name(pipeline, table.name) not in existing.get(name, ()):
                notices.append(
                    stack.locate(
                        "pipeline",
                        name,
                        ("tables", index, "tags"),
                        f"table {full_name(pipeline, table.name)} does not exist yet: the "
                        "pipeline's first update creates it, and the next `pulumi up` assigns "
                        "its tags",
                    )
                )
    return notices


def assigned(pipeline: Pipeline, existing: frozenset[str]) -> list[str]:
    """`table/key` of each tag this update assigns (the deployed record's `table_tags`)."""
    return [
        f"{full_name(pipeline, table.name)}/{key}"
        for table in pipeline.tables
        if table.tags and full_name(pipeline, table.name) in existing
        for key in sorted(table.tags)
    ]


def foreign_tags(
    stack: Stack,
    existing: dict[str, frozenset[str]],
    lookups: WorkspaceLookups,
    previous: Deployment,
) -> list[LocatedError]:
    """An error at each tag key a table already has that this stack did not assign."""
    errors: list[LocatedError] = []
    for name, pipeline in sorted(stack.pipelines.items()):
        for index, table in enumerate(pipeline.tables):
            full = full_name(pipeline, table.name)
            if not table.tags or full not in existing.get(name, ()):
                continue
            present = lookups.table_tag_keys(full)
            for key in sorted(table.tags):
                if key in present and f"{full}/{key}" not in previous.table_tags:
                    errors.append(
                        stack.locate(
                            "pipeline",
                            name,
                            ("tables", index, "tags"),
                            f"table {full} already has the tag '{key}', and this stack did not "
                            "assign it (set by hand or by another stack): remove it from the "
                            "table, or leave it out of tags",
                        )
                    )
    return errors
