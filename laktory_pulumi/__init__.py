"""laktory-pulumi: lakehouse pipelines declared in YAML, deployed by Pulumi.

Notebooks use `from laktory_pulumi import dlt, read_metadata, get_logger`; `dlt` is imported
on first use, so the CLI and the Pulumi program do not load pyspark.
"""

from __future__ import annotations

import importlib
from typing import Any

from .metadata import read_metadata
from .runtime.log import get_logger

__all__ = ["dlt", "get_logger", "read_metadata"]


def __getattr__(name: str) -> Any:
    if name == "dlt":
        return importlib.import_module(".runtime.dlt", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
