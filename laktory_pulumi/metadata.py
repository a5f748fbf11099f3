"""The pipeline metadata file: what the component uploads and what notebooks read back."""

from __future__ import annotations

import os
from pathlib import Path

from .gc_pause import collector_paused
from .models import Pipeline

DATABRICKS_WORKSPACE = "/Workspace"
WORKSPACE_ROOT_ENV = "LAKTORY_WORKSPACE_ROOT"
LAKTORY_ROOT_ENV = "LAKTORY_ROOT"
DEFAULT_LAKTORY_ROOT = "/.laktory/"


def metadata_bytes(pipeline: Pipeline) -> bytes:
    """The metadata JSON of a pipeline; the same bytes wherever it is produced."""
    return pipeline.model_dump_json(indent=2, exclude_none=True).encode() + b"\n"


def metadata_workspace_path(pipeline_name: str, laktory_root: str = DEFAULT_LAKTORY_ROOT) -> str:
    """Workspace path of the metadata file, e.g. `/.laktory/pipelines/pl-stock-prices.json`."""
    return f"{laktory_root.rstrip('/')}/pipelines/{pipeline_name}.json"


def on_databricks() -> bool:
    """True inside a Databricks runtime (notebook, job or DLT pipeline)."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def workspace_root() -> Path:
    """Where workspace paths live on this machine: `/Workspace` on Databricks."""
    if WORKSPACE_ROOT_ENV in os.environ:
        return Path(os.environ[WORKSPACE_ROOT_ENV])
    if on_databricks():
        return Path(DATABRICKS_WORKSPACE)
    raise FileNotFoundError(
        f"outside Databricks, set {WORKSPACE_ROOT_ENV} to the folder holding the laktory root "
        "(laktory-pulumi run lays one out under its state folder)"
    )


def read_metadata(pipeline: str, laktory_root: str | None = None) -> Pipeline:
    """Read a deployed pipeline's metadata into a validated `Pipeline`.

    The file is `<laktory root>pipelines/<pipeline>.json`, under `/Workspace` on
    Databricks and under `$LAKTORY_WORKSPACE_ROOT` elsewhere.
    """
    root = laktory_root or os.environ.get(LAKTORY_ROOT_ENV, DEFAULT_LAKTORY_ROOT)
    relative = metadata_workspace_path(pipeline, root).lstrip("/")
    path = workspace_root() / relative
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        folder = path.parent
        found = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
        listing = ", ".join(found) if found else "none"
        raise FileNotFoundError(
            f"no metadata for pipeline '{pipeline}' at {path}; pipelines there: {listing}"
        ) from None
    with collector_paused():
        return Pipeline.model_validate_json(data)
