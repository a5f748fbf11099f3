"""laktory-pulumi: lakehouse pipelines declared in YAML, deployed by Pulumi."""
