"""What notebooks import: metadata, table builders, the `dlt` shim and logging.

`read_source(table, spark)` reads a table's source and `process(table, df)` builds the table
from it. They live here, not on the models: models describe, the runtime builds, and the
dependency points one way (models never import the runtime). Importing this package needs
pyspark only once a DataFrame is built, so the CLI and the Pulumi program never pay for it.
"""

from ..metadata import read_metadata
from .builders import process
from .log import get_logger
from .readers import read_source

__all__ = ["get_logger", "process", "read_metadata", "read_source"]
