"""Clusters: the compute of a pipeline, and standalone clusters.

`num_workers: 0` is a single-node cluster, which Databricks recognises by its Spark profile,
not by the count: the provider sends `num_workers: 0` for a pipeline cluster only when its
`spark_conf` says `spark.databricks.cluster.profile: singleNode` (terraform-provider-databricks
`pipelines/resource_pipeline.go`, `adjustForceSendFields`, line 32); without it the zero is
dropped and DLT autoscales (1 to 5 workers). A standalone cluster needs the profile,
`spark.master: local[*]` and the `ResourceClass: SingleNode` tag ("Single node compute",
docs.databricks.com/compute/single-node.html). The deploy adds them (`SINGLE_NODE_SPARK_CONF`,
`SINGLE_NODE_TAGS`); a conflicting value in the YAML fails validation.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import FieldError, Model, UpperCase, exactly_one
from .permission import ClusterPermission

SINGLE_NODE_PROFILE = "spark.databricks.cluster.profile"
SINGLE_NODE_SPARK_CONF = {SINGLE_NODE_PROFILE: "singleNode", "spark.master": "local[*]"}
SINGLE_NODE_TAGS = {"ResourceClass": "SingleNode"}


class Autoscale(Model):
    """Worker count range the cluster scales within."""

    min_workers: int = Field(ge=0, description="Fewest workers.")
    max_workers: int = Field(ge=1, description="Most workers.")
    mode: Annotated[Literal["ENHANCED", "LEGACY"], UpperCase] | None = Field(
        default=None, description="DLT autoscaling mode; ENHANCED is Databricks' default."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Autoscale:
        if self.min_workers > self.max_workers:
            raise FieldError(
                "min_workers",
                f"min_workers ({self.min_workers}) exceeds max_workers ({self.max_workers})",
            )
        # The API rejects equal bounds: "max_workers must be strictly greater than min_workers"
        # (databricks-sdk `compute.AutoScale.max_workers` and
        # `pipelines.PipelineClusterAutoscale.max_workers`, generated from the REST API spec).
        if self.min_workers == self.max_workers:
            raise FieldError(
                "max_workers",
                f"max_workers must be greater than min_workers (both are {self.max_workers}); "
                "for a fixed size use num_workers",
            )
        return self


class InitScript(Model):
    """A script run on every node at start; exactly one destination."""

    workspace: str | None = Field(default=None, description="Workspace file path.")
    volumes: str | None = Field(default=None, description="Unity Catalog volume path.")
    dbfs: str | None = Field(default=None, description="DBFS path (deprecated by Databricks).")
    abfss: str | None = Field(default=None, description="Azure Data Lake Storage path.")
    s3: str | None = Field(default=None, description="Amazon S3 path.")
    gcs: str | None = Field(default=None, description="Google Cloud Storage path.")
    file: str | None = Field(default=None, description="Local file on the node.")

    @property
    def kind(self) -> str:
        """Which destination is set."""
        return exactly_one(self, "workspace", "volumes", "dbfs", "abfss", "s3", "gcs", "file")  # type: ignore[return-value]

    @model_validator(mode="after")
    def _one_destination(self) -> InitScript:
        _ = self.kind
        return self


class ClusterSpec(Model):
    """Compute settings shared by pipeline clusters and standalone clusters."""

    node_type_id: str | None = Field(
        default=None, description="Worker instance type, e.g. `Standard_DS3_v2`."
    )
    driver_node_type_id: str | None = Field(
        default=None, description="Driver instance type; the worker type when unset."
    )
    num_workers: int | None = Field(default=None, ge=0, description="Fixed worker count.")
    autoscale: Autoscale | None = Field(default=None, description="Autoscaling range.")
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Spark configuration.")
    spark_env_vars: dict[str, str] = Field(
        default_factory=dict, description="Environment variables of the Spark processes."
    )
    custom_tags: dict[str, str] = Field(
        default_factory=dict, description="Tags added to the cloud resources."
    )
    policy_id: str | None = Field(default=None, description="Cluster policy to apply.")
    apply_policy_default_values: bool | None = Field(
        default=None, description="Fill unset values from the policy's defaults."
    )
    instance_pool_id: str | None = Field(default=None, description="Pool to take nodes from.")
    init_scripts: list[InitScript] = Field(
        default_factory=list, description="Scripts run on every node at start."
    )

    @model_validator(mode="after")
    def _size_once(self) -> ClusterSpec:
        if self.num_workers is not None and self.autoscale is not None:
            raise FieldError("num_workers", "num_workers and autoscale exclude each other")
        single_node = self.num_workers == 0
        for key, value in SINGLE_NODE_SPARK_CONF.items():
            given = self.spark_conf.get(key)
            if single_node and given is not None and given != value:
                raise FieldError(
                    "spark_conf",
                    f"num_workers: 0 is a single-node cluster, which needs {key}: {value} "
                    f"(not {given}); the deploy sets it",
                )
        if not single_node and self.spark_conf.get(SINGLE_NODE_PROFILE) == "singleNode":
            raise FieldError(
                "spark_conf",
                "the singleNode profile is for num_workers: 0 (set it, or remove the profile)",
            )
        return self

    @property
    def single_node(self) -> bool:
        """Driver only: the deploy adds the single-node profile and tag."""
        return self.num_workers == 0


class PipelineCluster(ClusterSpec):
    """A cluster of a DLT pipeline."""

    # The labels the Pipelines API accepts: "either `default` to configure the default cluster,
    # or `maintenance` to configure the maintenance cluster" (clusters[].label,
    # https://docs.databricks.com/api/workspace/pipelines/create).
    name: Literal["default", "maintenance"] = Field(
        default="default",
        description="Cluster label in the pipeline: `default` or `maintenance`.",
    )


class Cluster(ClusterSpec):
    """A standalone all-purpose cluster, e.g. to debug the notebook templates interactively."""

    name: str = Field(description="Cluster name, unique in the stack.", min_length=1)
    spark_version: str = Field(description="Databricks runtime, e.g. `16.4.x-scala2.12`.")
    autotermination_minutes: int = Field(
        default=30, ge=0, description="Idle minutes before the cluster stops; 0 never stops."
    )
    data_security_mode: (
        Annotated[Literal["SINGLE_USER", "USER_ISOLATION", "NONE"], UpperCase] | None
    ) = Field(default=None, description="Unity Catalog access mode.")
    single_user_name: str | None = Field(
        default=None, description="The user of a SINGLE_USER cluster."
    )
    permissions: list[ClusterPermission] = Field(
        default_factory=list,
        description="Who may attach to, restart or manage the cluster (CAN_ATTACH_TO, "
        "CAN_RESTART, CAN_MANAGE).",
    )
    stacks: list[str] = Field(
        default_factory=list,
        description="The stacks that deploy this cluster (e.g. `[dev]` for a debugging "
        "cluster); every stack when empty.",
    )

    @model_validator(mode="after")
    def _no_pipeline_autoscaling_mode(self) -> Cluster:
        # `databricks.Cluster` has no autoscaling mode (ClusterAutoscaleArgs: min and max
        # workers only): accepted here, it would do nothing.
        if self.autoscale is not None and self.autoscale.mode is not None:
            raise FieldError(
                "autoscale",
                "autoscale.mode is a pipeline cluster's setting (DLT's enhanced autoscaling); "
                "an all-purpose cluster has none: remove it",
            )
        return self
