"""Pipeline rules the Databricks API or provider enforces only at `pulumi up`, checked at load.

Each rule cites where the platform states it; a YAML breaking one fails `validate` at the line
of the field to blame instead of failing half-way through a deploy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .permission import grant_principal_problem

if TYPE_CHECKING:
    from .pipeline import Pipeline

Path = tuple[str | int, ...]


def deploy_rules(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Serverless settings and Unity Catalog grant principals, with the path to blame."""
    return [*_serverless(pipeline), *_grant_principals(pipeline), *_dropping(pipeline)]


def _serverless(pipeline: Pipeline) -> list[tuple[Path, str]]:
    if not pipeline.serverless:
        return []
    problems: list[tuple[Path, str]] = []
    # terraform-provider-databricks docs/resources/pipeline.md line 97: `serverless` "Requires
    # `catalog` to be set, as it could be used only with Unity Catalog"; docs.databricks.com,
    # "Configure a serverless pipeline": "Serverless pipelines always use Unity Catalog".
    if pipeline.catalog is None:
        problems.append(
            (("serverless",), "a serverless pipeline publishes to Unity Catalog: set catalog")
        )
    # The platform chooses a serverless pipeline's edition (pipeline.md line 98: edition "Not
    # required when `serverless` is set to `true`"), and it is ADVANCED: another edition set
    # explicitly passes `preview` and fails at `up` (reproduced in issue 17).
    if pipeline.edition != "ADVANCED":
        problems.append(
            (
                ("edition",),
                f"a serverless pipeline runs the ADVANCED edition, not {pipeline.edition}: "
                "remove edition or set ADVANCED",
            )
        )
    return problems


def _grant_principals(pipeline: Pipeline) -> list[tuple[Path, str]]:
    problems: list[tuple[Path, str]] = []
    for field in ("readers", "authoritative_catalog_grants"):
        for index, entry in enumerate(getattr(pipeline, field)):
            problem = grant_principal_problem(entry)
            if problem is not None:
                problems.append(((field, index, entry.principal_kind), problem))
    if pipeline.authoritative_catalog_grants and pipeline.catalog is None:
        problems.append(
            (
                ("authoritative_catalog_grants",),
                "catalog grants need the pipeline's catalog: set catalog",
            )
        )
    seen: set[str] = set()
    for index, grant in enumerate(pipeline.authoritative_catalog_grants):
        if grant.principal in seen:
            problems.append(
                (
                    ("authoritative_catalog_grants", index, grant.principal_kind),
                    f"'{grant.principal}' is listed twice: give its complete privilege list once",
                )
            )
        seen.add(grant.principal)
    return problems


def _dropping(pipeline: Pipeline) -> list[tuple[Path, str]]:
    names = {table.name for table in pipeline.tables}
    return [
        (
            ("allow_dropping_tables", index),
            f"'{name}' is still a table of this pipeline: only a removed table can be dropped",
        )
        for index, name in enumerate(pipeline.allow_dropping_tables)
        if name in names
    ]
