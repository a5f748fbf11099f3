"""The pipeline metadata file: what the component uploads and what notebooks read back."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .gc_pause import collector_paused
from .models import Pipeline

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from .runtime.models import RuntimePipeline

DATABRICKS_WORKSPACE = "/Workspace"
WORKSPACE_ROOT_ENV = "LAKTORY_WORKSPACE_ROOT"
LAKTORY_ROOT_ENV = "LAKTORY_ROOT"
DEFAULT_LAKTORY_ROOT = "/.laktory/"
PIPELINE_NAME_KEY = "pipeline_name"
"""Pipeline configuration key naming the pipeline whose metadata a notebook reads."""
LAKTORY_ROOT_KEY = "laktory_root"
"""Pipeline configuration key holding the workspace folder of notebooks, metadata and wheel."""


def metadata_bytes(pipeline: Pipeline) -> bytes:
    """The metadata JSON of a pipeline; the same bytes wherever it is produced."""
    return pipeline.model_dump_json(indent=2, exclude_none=True).encode() + b"\n"


def pipeline_configuration(pipeline: Pipeline, laktory_root: str) -> dict[str, str]:
    """The deployed pipeline's Spark configuration: the YAML's plus what a template needs to
    find its metadata file (`read_metadata(spark=spark)`), alike on Databricks and locally.

    The two laktory keys come last: they must win over a YAML value of the same name, or the
    notebooks would read another pipeline's metadata.
    """
    return {
        **pipeline.configuration,
        PIPELINE_NAME_KEY: pipeline.name,
        LAKTORY_ROOT_KEY: laktory_root,
    }


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


def read_metadata(
    pipeline: str | None = None,
    laktory_root: str | None = None,
    *,
    spark: SparkSession | None = None,
) -> RuntimePipeline:
    """Read a deployed pipeline's metadata into a `Pipeline` a notebook can build tables with.

    The result is the runtime's subclass (`runtime.models.RuntimePipeline`): each table's
    builder has Laktory's `read_source(spark)` and `process(df, spark=spark)`, and an unset
    `template` reads as the layer, as in Laktory v0.0.22. The file is parsed and validated by
    pydantic in one pass; the rules across tables, checked when the file was written, are not
    checked again.

    The file is `<laktory root>pipelines/<pipeline>.json`, under `/Workspace` on Databricks and
    under `$LAKTORY_WORKSPACE_ROOT` elsewhere. The pipeline and the root default to the running
    pipeline's own configuration (`pipeline_name`, `laktory_root` in `spark.conf`), which the
    component deploys and `laktory-pulumi run` sets alike, so every stack's notebooks read their
    own stack's metadata. `$LAKTORY_ROOT` is the last resort for a notebook outside a pipeline.
    """
    configured = _pipeline_configuration(spark)
    name = pipeline or configured.get(PIPELINE_NAME_KEY)
    if not name:
        raise ValueError(
            f"no pipeline named: pass pipeline=, or run inside a pipeline whose configuration "
            f"sets '{PIPELINE_NAME_KEY}' (the deployed ones and local runs do)"
        )
    root = (
        laktory_root
        or configured.get(LAKTORY_ROOT_KEY)
        or os.environ.get(LAKTORY_ROOT_ENV, DEFAULT_LAKTORY_ROOT)
    )
    relative = metadata_workspace_path(name, root).lstrip("/")
    path = workspace_root() / relative
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        folder = path.parent
        found = sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
        listing = ", ".join(found) if found else "none"
        raise FileNotFoundError(
            f"no metadata for pipeline '{name}' at {path}; pipelines there: {listing}"
        ) from None
    from .runtime.models import RuntimePipeline  # the runtime's subclass; no pyspark import

    with collector_paused():
        return RuntimePipeline.model_validate_json(data)


def _pipeline_configuration(spark: SparkSession | None) -> dict[str, str]:
    """The laktory keys of the pipeline configuration of `spark` (or of the active session)."""
    if spark is None:
        try:
            from pyspark.sql import SparkSession
        except ImportError:  # the deploy side has no pyspark
            return {}
        spark = SparkSession.getActiveSession()
        if spark is None:
            return {}
    keys = (PIPELINE_NAME_KEY, LAKTORY_ROOT_KEY)
    return {key: value for key in keys if (value := spark.conf.get(key, None))}
