"""`laktory:databricks:Pipeline`: one pipeline and everything it needs in the workspace.

Children, all `parent=self` so they inherit the component's options (`protect`, provider):

- `databricks.Notebook` for each notebook found in the local notebooks folder and
  `databricks.WorkspaceFile` for the metadata JSON and the laktory_pulumi wheel, all passed
  inline (base64): no temporary file, and an edited notebook is updated in place;
- `databricks.Pipeline`, created after them (its notebooks must exist when DLT reads them);
- `databricks.Permissions` on the pipeline from the YAML's `permissions`, and CAN_READ for the
  same principals on every uploaded notebook and file. Nobody else gets anything: no grant is
  added that the YAML did not ask for.

Resource names are the pipeline name and a stable key (`pl-x/notebook/dlt_brz_template`,
`pl-x/metadata/permissions`), never a position in a YAML list.
"""

from __future__ import annotations

import base64
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
from .permissions import READ_ONLY, access_controls
from .pipeline_args import pipeline_resource_args
from .secrets import SecretValues

PIPELINE_TYPE = "laktory:databricks:Pipeline"


class PipelineComponent(pulumi.ComponentResource):
    """A DLT pipeline with its notebooks, metadata file, wheel and permissions."""

    pipeline: databricks.Pipeline
    artifacts: dict[str, pulumi.CustomResource]
    """The uploaded notebooks and files, by artifact key."""
    pipeline_id: pulumi.Output[str]
    pipeline_url: pulumi.Output[str]
    metadata_path: str
    notebook_paths: list[str]

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        notebooks_dir: Path,
        laktory_root: str = DEFAULT_LAKTORY_ROOT,
        secrets: SecretValues | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(PIPELINE_TYPE, pipeline.name, None, opts)
        secrets = secrets or SecretValues()
        name = pipeline.name
        artifacts = pipeline_artifacts(pipeline, notebooks_dir, laktory_root)

        self.artifacts = {
            artifact.key: self._upload(name, artifact, secrets) for artifact in artifacts
        }
        arguments = pipeline_resource_args(
            pipeline,
            laktory_root,
            lambda path: deployed_library_path(name, path, notebooks_dir, laktory_root),
        )
        self.pipeline = databricks.Pipeline(
            name,
            **{key: secrets.conceal(value) for key, value in arguments.items()},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.artifacts.values())),
        )

        if pipeline.permissions:
            databricks.Permissions(
                f"{name}/permissions",
                pipeline_id=self.pipeline.id,
                access_controls=secrets.conceal(access_controls(pipeline.permissions)),
                opts=pulumi.ResourceOptions(parent=self),
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
                    opts=pulumi.ResourceOptions(
                        parent=self, depends_on=[self.artifacts[artifact.key]]
                    ),
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

    def _upload(
        self, pipeline_name: str, artifact: WorkspaceArtifact, secrets: SecretValues
    ) -> pulumi.CustomResource:
        """A Notebook or WorkspaceFile resource holding the artifact's bytes."""
        data = artifact.content
        if artifact.key == METADATA_KEY:  # readable in the workspace: no secret in clear
            data = secrets.redact_configuration(data)
        content = base64.b64encode(data).decode()
        # Only the metadata is made of the stack config; notebooks and the wheel are source
        # code, where a secret's text (say `dev`) would be found by chance. The bytes are
        # checked, not the base64: a secret inside base64 text is no substring of it.
        holds_config = artifact.key == METADATA_KEY and secrets.found_in(artifact.content)
        inline = pulumi.Output.secret(content) if holds_config else content
        resource_name = f"{pipeline_name}/{artifact.key}"
        opts = pulumi.ResourceOptions(parent=self)
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
