"""Deploying pipelines to Databricks with Pulumi, and the offline preview of a deploy.

- `artifacts`: the notebooks, metadata file and wheel a pipeline puts in the workspace (shared
  with the local runner); `wheel`: the package wheel, built in memory.
- `pipeline_component`, `cluster_component`: the `laktory:databricks:*` ComponentResources;
  `pipeline_args`, `cluster_args`, `permissions`, `secrets`: what they pass to pulumi-databricks.
- `program`: what the project's `__main__.py` runs; `preview`: that program under Pulumi's mock
  runtime (`laktory-pulumi preview`).

Nothing is imported here: the local runner imports `artifacts` without loading Pulumi.
"""
