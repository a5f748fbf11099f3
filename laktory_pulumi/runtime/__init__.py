"""What notebooks import: metadata, table builders, the `dlt` shim and logging.

Importing this package needs pyspark only once a DataFrame is built, so the CLI and the Pulumi
program never pay for it.
"""

from ..metadata import read_metadata
from .log import get_logger

__all__ = ["get_logger", "read_metadata"]
