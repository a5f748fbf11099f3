"""Running pipelines on this machine with Spark Declarative Pipelines."""
