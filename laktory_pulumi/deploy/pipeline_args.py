"""A `Pipeline` model as the arguments of `databricks.Pipeline`.

Lists DLT treats as sets (clusters by label, libraries) are sorted, so reordering the YAML
gives the same inputs. The model's `target` is passed as `schema`: in pulumi-databricks
`target` selects DLT's legacy publishing mode (the `LIVE` virtual schema), which Databricks
deprecates for new pipelines; `schema` is the same setting in the default publishing mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi_databricks as databricks

from ..metadata import pipeline_configuration
from ..models import Library, Pipeline
from .cluster_args import pipeline_cluster_args


def pipeline_resource_args(
    pipeline: Pipeline,
    laktory_root: str,
    deployed_path: Callable[[str], str],
    *,
    display_name: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments of `databricks.Pipeline`.

    `deployed_path` maps a notebook library's path to where it lives in the workspace (the
    pipeline's own copy when laktory uploads it); `display_name` is the name shown in the
    workspace (the stack's prefix and the pipeline's name), the YAML's name by default.
    """
    return {
        "name": display_name or pipeline.name,
        "catalog": pipeline.catalog,
        "schema": pipeline.target,
        "storage": pipeline.storage,
        "clusters": [
            pipeline_cluster_args(cluster)
            for cluster in sorted(pipeline.clusters, key=lambda cluster: cluster.name)
        ]
        or None,
        "libraries": _libraries(pipeline.libraries, deployed_path) or None,
        "configuration": pipeline_configuration(pipeline, laktory_root),
        "continuous": pipeline.continuous,
        "development": pipeline.development,
        # Serverless compute is Databricks-managed, Photon included ("Serverless pipelines remove
        # most configuration options, as Databricks manages all infrastructure",
        # docs.databricks.com, "Configure a serverless pipeline"): the flag is classic compute's.
        "photon": None if pipeline.serverless else pipeline.photon,
        "allow_duplicate_names": pipeline.allow_duplicate_names,
        "serverless": pipeline.serverless,
        "channel": pipeline.channel,
        "edition": pipeline.edition,
        "notifications": [
            databricks.PipelineNotificationArgs(
                alerts=list(notification.alerts),
                email_recipients=list(notification.email_recipients),
            )
            for notification in pipeline.notifications
        ]
        or None,
        "tags": dict(sorted(pipeline.tags.items())) or None,
        "event_log": _event_log(pipeline),
    }


def _event_log(pipeline: Pipeline) -> databricks.PipelineEventLogArgs | None:
    """The event log table; its catalog and schema default to the pipeline's, written out so
    that the plan shows where it goes."""
    log = pipeline.event_log
    if log is None:
        return None
    return databricks.PipelineEventLogArgs(
        name=log.name,
        catalog=log.catalog or pipeline.catalog,
        schema=log.schema_name or pipeline.target,
    )


def _libraries(
    libraries: list[Library], deployed_path: Callable[[str], str]
) -> list[databricks.PipelineLibraryArgs]:
    notebooks = sorted(
        {deployed_path(library.notebook.path) for library in libraries if library.notebook}
    )
    files = sorted({library.file.path for library in libraries if library.file})
    return [
        *(
            databricks.PipelineLibraryArgs(notebook=databricks.PipelineLibraryNotebookArgs(path=p))
            for p in notebooks
        ),
        *(
            databricks.PipelineLibraryArgs(file=databricks.PipelineLibraryFileArgs(path=p))
            for p in files
        ),
    ]
