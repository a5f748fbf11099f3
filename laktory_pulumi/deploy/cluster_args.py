"""Cluster models as pulumi-databricks arguments: a pipeline's clusters and standalone ones.

`ClusterSpec` fields are shared by both; pulumi-databricks has one argument class per resource
for the same settings (`PipelineClusterArgs`, `ClusterArgs`), so each is filled here, field by
field. Empty mappings and lists become None: an unset argument reads better in a preview than
an empty one and means the same to Databricks.
"""

from __future__ import annotations

from typing import Any

import pulumi_databricks as databricks

from ..models import Cluster, ClusterSpec, InitScript, PipelineCluster
from ..models.cluster import SINGLE_NODE_SPARK_CONF, SINGLE_NODE_TAGS

# Init script destinations -> the argument class of each, for pipeline and standalone clusters.
_PIPELINE_INIT_SCRIPT_DESTINATIONS: dict[str, Any] = {
    "workspace": databricks.PipelineClusterInitScriptWorkspaceArgs,
    "volumes": databricks.PipelineClusterInitScriptVolumesArgs,
    "dbfs": databricks.PipelineClusterInitScriptDbfsArgs,
    "abfss": databricks.PipelineClusterInitScriptAbfssArgs,
    "s3": databricks.PipelineClusterInitScriptS3Args,
    "gcs": databricks.PipelineClusterInitScriptGcsArgs,
    "file": databricks.PipelineClusterInitScriptFileArgs,
}
_CLUSTER_INIT_SCRIPT_DESTINATIONS: dict[str, Any] = {
    "workspace": databricks.ClusterInitScriptWorkspaceArgs,
    "volumes": databricks.ClusterInitScriptVolumesArgs,
    "dbfs": databricks.ClusterInitScriptDbfsArgs,
    "abfss": databricks.ClusterInitScriptAbfssArgs,
    "s3": databricks.ClusterInitScriptS3Args,
    "gcs": databricks.ClusterInitScriptGcsArgs,
    "file": databricks.ClusterInitScriptFileArgs,
}


def pipeline_cluster_args(cluster: PipelineCluster) -> databricks.PipelineClusterArgs:
    """A DLT pipeline's cluster; the model's `name` is the cluster's `label` in DLT."""
    autoscale = None
    if cluster.autoscale is not None:
        autoscale = databricks.PipelineClusterAutoscaleArgs(
            min_workers=cluster.autoscale.min_workers,
            max_workers=cluster.autoscale.max_workers,
            mode=cluster.autoscale.mode,
        )
    return databricks.PipelineClusterArgs(
        label=cluster.name,
        autoscale=autoscale,
        init_scripts=[
            databricks.PipelineClusterInitScriptArgs(**_destination(script, pipeline=True))
            for script in cluster.init_scripts
        ]
        or None,
        **_shared_settings(cluster),
    )


def standalone_cluster_args(cluster: Cluster) -> dict[str, Any]:
    """Keyword arguments of `databricks.Cluster` for a standalone cluster (whose model refuses
    a pipeline cluster's autoscaling mode)."""
    autoscale = None
    if cluster.autoscale is not None:
        autoscale = databricks.ClusterAutoscaleArgs(
            min_workers=cluster.autoscale.min_workers,
            max_workers=cluster.autoscale.max_workers,
        )
    return {
        "cluster_name": cluster.name,
        "spark_version": cluster.spark_version,
        "autoscale": autoscale,
        "autotermination_minutes": cluster.autotermination_minutes,
        "data_security_mode": cluster.data_security_mode,
        "single_user_name": cluster.single_user_name,
        "init_scripts": [
            databricks.ClusterInitScriptArgs(**_destination(script, pipeline=False))
            for script in cluster.init_scripts
        ]
        or None,
        **_shared_settings(cluster),
    }


def _shared_settings(cluster: ClusterSpec) -> dict[str, Any]:
    """The settings both argument classes name alike; a single-node cluster (`num_workers: 0`)
    carries the profile and tag without which Databricks drops the zero (`models.cluster`)."""
    spark_conf = dict(cluster.spark_conf)
    custom_tags = dict(cluster.custom_tags)
    if cluster.single_node:
        spark_conf.update(SINGLE_NODE_SPARK_CONF)
        custom_tags.update(SINGLE_NODE_TAGS)
    return {
        "node_type_id": cluster.node_type_id,
        "driver_node_type_id": cluster.driver_node_type_id,
        "num_workers": cluster.num_workers,
        "spark_conf": spark_conf or None,
        "spark_env_vars": cluster.spark_env_vars or None,
        "custom_tags": custom_tags or None,
        "policy_id": cluster.policy_id,
        "apply_policy_default_values": cluster.apply_policy_default_values,
        "instance_pool_id": cluster.instance_pool_id,
    }


def _destination(script: InitScript, *, pipeline: bool) -> dict[str, Any]:
    """`{"volumes": ...VolumesArgs(destination=...)}` for the one destination the script sets."""
    kind = script.kind
    classes = _PIPELINE_INIT_SCRIPT_DESTINATIONS if pipeline else _CLUSTER_INIT_SCRIPT_DESTINATIONS
    return {kind: classes[kind](destination=getattr(script, kind))}
