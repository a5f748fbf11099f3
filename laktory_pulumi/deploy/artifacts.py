"""What a pipeline puts in the workspace: its notebooks, its metadata file and the package wheel.

One function, `pipeline_artifacts`, computes the path and the exact bytes of each; the Pulumi
component uploads them and the local runner writes them to a local folder, so a local run
executes exactly what a deploy would.

Layout under the laktory root (the stack's `laktory_root`, `/.laktory/<stack>/` by default), for
a pipeline `pl-x`:

- `<root>pipelines/pl-x/<notebook>`: the pipeline's own copy of every notebook library found
  in the local `notebooks/` folder (library `/pipelines/dlt_brz_template.py` comes from
  `notebooks/dlt_brz_template.py`). Copies are per pipeline, so two pipelines sharing a template
  never overwrite each other's, and workspace notebook paths carry no `.py`.
- `<root>pipelines/pl-x.json`: the metadata, `metadata_bytes(pipeline)`, which the notebooks
  read back with `read_metadata`.
- `<root>wheels/pl-x/laktory_pulumi-<version>-py3-none-any.whl`: the package itself; its
  version carries a hash of its sources, so new code is a new path (`deploy.wheel`).
- `<root>pipelines/pl-x/<module>.py`: each module of the project the pipeline imports (its
  `udfs` and the tables' `transform`), from the local `notebooks/` folder, as a workspace file
  (not a notebook) so that Python can import it from the notebooks' folder (`runtime.udfs`).

How DLT imports laktory_pulumi: a DLT cluster has only what the pipeline installs. Each
template's first cell is `# MAGIC %pip install {{LAKTORY_WHEEL}}`; `render_notebook` replaces
the token with the wheel's `/Workspace/...` path, so on Databricks that cell installs the wheel
deployed next to the notebook (DLT runs `%pip` cells before the rest of the notebook). In a
plain Python file the line is a comment, so Spark Declarative Pipelines, which runs the same
notebooks locally, ignores it and imports the installed package instead. Per-pipeline wheel
paths mean a deploy of one pipeline never swaps the package under another one's running update.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..metadata import (
    DATABRICKS_WORKSPACE,
    DEFAULT_LAKTORY_ROOT,
    metadata_bytes,
    metadata_workspace_path,
)
from ..models import Pipeline
from .wheel import Wheel, build_wheel

WHEEL_TOKEN = "{{LAKTORY_WHEEL}}"
# Notebook libraries under this prefix may come from the local notebooks folder.
LOCAL_NOTEBOOK_PREFIX = "/pipelines/"
NOTEBOOK_SUFFIX = ".py"
METADATA_KEY = "metadata"
WHEEL_KEY = "wheel"

ArtifactKind = Literal["notebook", "file"]


@dataclass(frozen=True)
class WorkspaceArtifact:
    """One object the deploy writes to the workspace."""

    key: str
    """Stable within its pipeline (`notebook/dlt_brz_template`, `metadata`, `wheel`): it names
    the Pulumi resources, so it must not depend on positions in the YAML."""
    workspace_path: str
    content: bytes
    kind: ArtifactKind


def pipeline_artifacts(
    pipeline: Pipeline,
    notebooks_dir: Path,
    laktory_root: str = DEFAULT_LAKTORY_ROOT,
    wheel: Wheel | None = None,
) -> list[WorkspaceArtifact]:
    """The notebooks found locally, the metadata file and the wheel of `pipeline`.

    Notebook libraries with no local file are taken as already in the workspace: they are left
    as written and give no artifact. `wheel` is the package built once for a whole stack; by
    default it is built here.
    """
    wheel = wheel or build_wheel()
    wheel_path = wheel_workspace_path(pipeline.name, wheel.filename, laktory_root)
    artifacts: list[WorkspaceArtifact] = []
    seen: set[str] = set()
    for library in pipeline.libraries:
        if library.notebook is None:
            continue
        source = local_notebook_file(library.notebook.path, notebooks_dir)
        if source is None:
            continue
        relative = notebook_relative_path(library.notebook.path)
        workspace_path = notebook_workspace_path(pipeline.name, relative, laktory_root)
        if workspace_path in seen:  # the same notebook listed twice is deployed once
            continue
        seen.add(workspace_path)
        content = render_notebook(source.read_text(), wheel_path).encode()
        artifacts.append(
            WorkspaceArtifact(f"notebook/{relative}", workspace_path, content, "notebook")
        )
    for ref in pipeline.project_modules():
        module_file = notebooks_dir / ref.relative_path
        if not module_file.is_file():  # validation reports it at its line first
            raise FileNotFoundError(f"module {ref.module_name}: no file {module_file}")
        artifacts.append(
            WorkspaceArtifact(
                f"module/{ref.module_name}",
                notebook_workspace_path(pipeline.name, ref.relative_path, laktory_root),
                module_file.read_bytes(),
                "file",
            )
        )
    artifacts.append(
        WorkspaceArtifact(
            METADATA_KEY,
            metadata_workspace_path(pipeline.name, laktory_root),
            metadata_bytes(pipeline),
            "file",
        )
    )
    artifacts.append(WorkspaceArtifact(WHEEL_KEY, wheel_path, wheel.content, "file"))
    return artifacts


def render_notebook(source: str, wheel_workspace_path: str) -> str:
    """The notebook with its `%pip install` cell pointing at the deployed wheel.

    `wheel_workspace_path` is a workspace path (`/.laktory/wheels/...`); clusters see the
    workspace under `/Workspace`, hence the prefix.
    """
    return source.replace(WHEEL_TOKEN, DATABRICKS_WORKSPACE + wheel_workspace_path)


def deployed_library_path(
    pipeline_name: str,
    library_path: str,
    notebooks_dir: Path,
    laktory_root: str = DEFAULT_LAKTORY_ROOT,
) -> str:
    """Where a notebook library lives once deployed: the pipeline's copy, or the path as written."""
    if local_notebook_file(library_path, notebooks_dir) is None:
        return library_path
    relative = notebook_relative_path(library_path)
    return notebook_workspace_path(pipeline_name, relative, laktory_root)


def local_notebook_file(library_path: str, notebooks_dir: Path) -> Path | None:
    """The file of `notebooks_dir` a library path names, or None if it names none.

    `/pipelines/x.py` and `/pipelines/x` both name `notebooks/x.py`.
    """
    if not library_path.startswith(LOCAL_NOTEBOOK_PREFIX):
        return None
    candidate = notebooks_dir / (notebook_relative_path(library_path) + NOTEBOOK_SUFFIX)
    return candidate if candidate.is_file() else None


def notebook_relative_path(library_path: str) -> str:
    """`/pipelines/sub/x.py` -> `sub/x`: the notebook's place under the pipeline's folder."""
    return library_path.removeprefix(LOCAL_NOTEBOOK_PREFIX).removesuffix(NOTEBOOK_SUFFIX)


def notebook_workspace_path(
    pipeline_name: str, relative: str, laktory_root: str = DEFAULT_LAKTORY_ROOT
) -> str:
    """`/.laktory/pipelines/<pipeline>/<relative>`, without `.py` as workspace notebooks are."""
    return f"{laktory_root.rstrip('/')}/pipelines/{pipeline_name}/{relative}"


def wheel_workspace_path(
    pipeline_name: str, filename: str, laktory_root: str = DEFAULT_LAKTORY_ROOT
) -> str:
    """`/.laktory/wheels/<pipeline>/<wheel file name>`."""
    return f"{laktory_root.rstrip('/')}/wheels/{pipeline_name}/{filename}"
