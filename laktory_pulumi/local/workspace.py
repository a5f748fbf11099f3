"""The local stand-in for a Databricks workspace, laid out by the deploy code itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..deploy.secrets import SecretValues
from ..metadata import metadata_workspace_path
from ..models import Pipeline


@dataclass(frozen=True)
class LocalWorkspace:
    """What was written under the state's `workspace/` folder."""

    root: Path
    notebooks: list[Path]
    metadata: Path


def lay_out_workspace(
    root: Path,
    pipeline: Pipeline,
    notebooks_dir: Path,
    laktory_root: str,
    secrets: SecretValues | None = None,
) -> LocalWorkspace:
    """Write the pipeline's notebooks and metadata file where the component deploys them.

    The bytes come from `pipeline_artifacts`, the function the Pulumi component uploads from,
    so a local run executes exactly what a deploy would. Notebooks (the files under
    `<laktory root>pipelines/<pipeline>/`) get a `.py` suffix: SDP imports only files named
    so, and workspace notebooks have none. Other artifacts (the wheel) are left out: locally
    the notebooks import the installed package.
    """
    from ..deploy.artifacts import pipeline_artifacts

    notebooks_prefix = f"{laktory_root.rstrip('/')}/pipelines/{pipeline.name}/"
    metadata_path = metadata_workspace_path(pipeline.name, laktory_root)
    notebooks: list[Path] = []
    metadata: Path | None = None
    for artifact in pipeline_artifacts(pipeline, notebooks_dir, laktory_root=laktory_root):
        workspace_path = artifact.workspace_path
        if workspace_path.startswith(notebooks_prefix):
            suffix = "" if workspace_path.endswith(".py") else ".py"
            path = root / (workspace_path.lstrip("/") + suffix)
            if artifact.kind == "notebook":  # UDF and transform modules are imported, not run
                notebooks.append(path)
        elif workspace_path == metadata_path:
            path = metadata = root / workspace_path.lstrip("/")
            if secrets is not None:
                _write_if_changed(path, secrets.redact_configuration(artifact.content))
                continue
        else:
            continue
        _write_if_changed(path, artifact.content)
    if metadata is None:
        raise RuntimeError(f"the deploy artifacts of {pipeline.name} hold no {metadata_path}")
    return LocalWorkspace(root=root, notebooks=notebooks, metadata=metadata)


def _write_if_changed(path: Path, content: bytes) -> None:
    """Write through a temporary file, so a killed run never leaves half a notebook."""
    if path.exists() and path.read_bytes() == content:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    partial.replace(path)
