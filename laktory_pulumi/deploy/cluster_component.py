"""`laktory:databricks:Cluster`: a standalone cluster of `stacks/clusters/` and its permissions."""

from __future__ import annotations

import pulumi
import pulumi_databricks as databricks

from ..models import Cluster
from .cluster_args import standalone_cluster_args
from .permissions import access_controls
from .protection import child_options
from .secrets import SecretValues

CLUSTER_TYPE = "laktory:databricks:Cluster"


class ClusterComponent(pulumi.ComponentResource):
    """An all-purpose cluster, e.g. to debug the notebook templates interactively."""

    cluster: databricks.Cluster
    cluster_id: pulumi.Output[str]
    cluster_url: pulumi.Output[str]

    def __init__(
        self,
        cluster: Cluster,
        *,
        name_prefix: str = "",
        protect: bool = False,
        secrets: SecretValues | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """The cluster is protected when `protect`; its permissions never are."""
        super().__init__(CLUSTER_TYPE, cluster.name, None, opts)
        secrets = secrets or SecretValues()
        arguments = standalone_cluster_args(cluster)
        arguments["cluster_name"] = f"{name_prefix}{cluster.name}"
        self.cluster = databricks.Cluster(
            cluster.name,
            **{key: secrets.conceal(value) for key, value in arguments.items()},
            opts=child_options(self, protect=protect, holds_data=True),
        )
        if cluster.permissions:
            databricks.Permissions(
                f"{cluster.name}/permissions",
                cluster_id=self.cluster.id,
                access_controls=secrets.conceal(access_controls(cluster.permissions)),
                opts=child_options(self, protect=protect, holds_data=False),
            )
        self.cluster_id = self.cluster.id
        self.cluster_url = self.cluster.url
        self.register_outputs({"cluster_id": self.cluster_id, "cluster_url": self.cluster_url})
