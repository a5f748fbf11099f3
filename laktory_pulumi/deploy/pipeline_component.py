"""`laktory:databricks:Pipeline`: one pipeline and everything it needs in the workspace.

Children, all `parent=self` (they inherit the provider); `protect` is set on each child by
what it holds (`deploy.protection`): only the pipeline is protected, never the routine files:

- `databricks.Notebook` for each notebook found in the local notebooks folder and
  `databricks.WorkspaceFile` for the metadata JSON and the laktory_pulumi wheel, all passed
  inline (base64): no temporary file, and an edited notebook is updated in place;
- `databricks.Pipeline`, created after them (its notebooks must exist when DLT reads them);
- `databricks.EntityTagAssignment` for each tag of a table the workspace holds
  (`deploy.table_tags`);
- `databricks.Permissions` on the pipeline from the YAML's `permissions`, and CAN_READ for the
  same principals on every uploaded notebook and file. Nobody else gets anything: no grant is
  added that the YAML did not ask for;
- with a `schedule`, a `databricks.Job` running the pipeline and its `databricks.Permissions`
  (`deploy.job_args`).

Deployed names (the pipeline's, the job's) carry the stack's `name_prefix`; resource names do
not, so a new prefix renames in place and never replaces.

Resource names are the pipeline name and a stable key (`pl-x/notebook/dlt_brz_template`,
`pl-x/metadata/permissions`), never a position in a YAML list.
"""

from __future__ import annotations

import base64
import functools
from pathlib import Path

import pulumi
import pulumi_databricks as databricks

from ..metadata import DEFAULT_LAKTORY_ROOT
from ..models import Pipeline
from .artifacts import (
    METADATA_KEY,
    WorkspaceArtifact,
    deployed_library_path,
    pipeline_artifacts,
)
from .job_args import job_access_controls, schedule_job_args
from .permissions import READ_ONLY, access_controls
from .pipeline_args import pipeline_resource_args
from .protection import child_options
from .secrets import SecretValues
from .table_tags import ENTITY_TYPE, full_name
from .wheel import Wheel

PIPELINE_TYPE = "laktory:databricks:Pipeline"


class PipelineComponent(pulumi.ComponentResource):
    """A DLT pipeline with its notebooks, metadata file, wheel and permissions."""

    pipeline: databricks.Pipeline
    artifacts: dict[str, pulumi.CustomResource]
    """The uploaded notebooks and files, by artifact key."""
    pipeline_id: pulumi.Output[str]
    pipeline_url: pulumi.Output[str]
    tag_assignments: list[databricks.EntityTagAssignment]
    """One per tag of each table that exists (`deploy.table_tags`)."""
    job: databricks.Job | None
    metadata_path: str
    notebook_paths: list[str]

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        notebooks_dir: Path,
        laktory_root: str = DEFAULT_LAKTORY_ROOT,
        name_prefix: str = "",
        protect: bool = False,
        depends_on: list[pulumi.Resource] | None = None,
        wheel: Wheel | None = None,
        secrets: SecretValues | None = None,
        existing_tables: frozenset[str] = frozenset(),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`depends_on`: what the pipeline needs first (its schema, its landing volume);
        `wheel`: the package, built once for the stack (built here when not given);
        `existing_tables`: the full names of the tables the workspace holds, whose `tags`
        are assigned (`deploy.table_tags`)."""
        super().__init__(PIPELINE_TYPE, pipeline.name, None, opts)
        secrets = secrets or SecretValues()
        self._protect = protect
        name = pipeline.name
        display_name = f"{name_prefix}{name}"
        artifacts = pipeline_artifacts(pipeline, notebooks_dir, laktory_root, wheel)

        self.artifacts = {
            artifact.key: self._upload(name, artifact, secrets) for artifact in artifacts
        }
        arguments = pipeline_resource_args(
            pipeline,
            laktory_root,
            lambda path: deployed_library_path(name, path, notebooks_dir, laktory_root),
            display_name=display_name,
        )
        self.pipeline = databricks.Pipeline(
            name,
            **{key: secrets.conceal(value) for key, value in arguments.items()},
            opts=self._child(
                holds_data=True,
                depends_on=[*self.artifacts.values(), *(depends_on or [])],
            ),
        )

        if pipeline.permissions:
            databricks.Permissions(
                f"{name}/permissions",
                pipeline_id=self.pipeline.id,
                access_controls=secrets.conceal(access_controls(pipeline.permissions)),
                opts=self._child(),
            )
            readers = secrets.conceal(access_controls(pipeline.permissions, level=READ_ONLY))
            for artifact in artifacts:
                target = (
                    {"notebook_path": artifact.workspace_path}
                    if artifact.kind == "notebook"
                    else {"workspace_file_path": artifact.workspace_path}
                )
                databricks.Permissions(
                    f"{name}/{artifact.key}/permissions",
                    access_controls=readers,
                    **target,
                    opts=self._child(depends_on=[self.artifacts[artifact.key]]),
                )

        self.tag_assignments = [
            databricks.EntityTagAssignment(
                f"{name}/table/{table.name}/tag/{key}",
                entity_type=ENTITY_TYPE,
                entity_name=full_name(pipeline, table.name),
                tag_key=key,
                tag_value=value or None,
                opts=self._child(depends_on=[self.pipeline]),
            )
            for table in pipeline.tables
            if table.tags and full_name(pipeline, table.name) in existing_tables
            for key, value in sorted(table.tags.items())
        ]

        self.job = None
        if pipeline.schedule is not None:
            job_args = schedule_job_args(pipeline, self.pipeline.id, display_name)
            self.job = databricks.Job(
                f"{name}/schedule",
                # The task holds only the pipeline's id (an output) and a flag: no YAML text.
                **{
                    key: value if key == "tasks" else secrets.conceal(value)
                    for key, value in job_args.items()
                },
                opts=self._child(),
            )
            if pipeline.permissions:
                databricks.Permissions(
                    f"{name}/schedule/permissions",
                    job_id=self.job.id,
                    access_controls=job_access_controls(pipeline),
                    opts=self._child(),
                )

        self.pipeline_id = self.pipeline.id
        self.pipeline_url = self.pipeline.url
        self.metadata_path = next(a.workspace_path for a in artifacts if a.key == METADATA_KEY)
        self.notebook_paths = sorted(a.workspace_path for a in artifacts if a.kind == "notebook")
        self.register_outputs(
            {
                "pipeline_id": self.pipeline_id,
                "pipeline_url": self.pipeline_url,
                "metadata_path": self.metadata_path,
                "notebook_paths": self.notebook_paths,
            }
        )

    def _child(self, *, holds_data: bool = False, **options: object) -> pulumi.ResourceOptions:
        return child_options(self, protect=self._protect, holds_data=holds_data, **options)

    def _upload(
        self, pipeline_name: str, artifact: WorkspaceArtifact, secrets: SecretValues
    ) -> pulumi.CustomResource:
        """A Notebook or WorkspaceFile resource holding the artifact's bytes."""
        data = artifact.content
        if artifact.key == METADATA_KEY:  # readable in the workspace: no secret in clear
            data = secrets.redact_configuration(data)
        content = _base64(data)
        # Only the metadata is made of the stack config; notebooks and the wheel are source
        # code, where a secret's text (say `dev`) would be found by chance. The bytes are
        # checked, not the base64: a secret inside base64 text is no substring of it.
        holds_config = artifact.key == METADATA_KEY and secrets.found_in(artifact.content)
        inline = pulumi.Output.secret(content) if holds_config else content
        resource_name = f"{pipeline_name}/{artifact.key}"
        # Routine: a new wheel or a renamed notebook is a new path, hence a replacement.
        opts = self._child()
        if artifact.kind == "notebook":
            return databricks.Notebook(
                resource_name,
                path=artifact.workspace_path,
                language="PYTHON",
                content_base64=inline,
                opts=opts,
            )
        return databricks.WorkspaceFile(
            resource_name, path=artifact.workspace_path, content_base64=inline, opts=opts
        )


@functools.lru_cache(maxsize=16)
def _base64(data: bytes) -> str:
    """The base64 text of an upload, encoded once per content: every pipeline of a stack
    uploads the same wheel (and often the same notebooks)."""
    return base64.b64encode(data).decode()
