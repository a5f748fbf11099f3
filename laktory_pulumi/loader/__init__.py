"""Reading YAML definitions and stack config into validated models, with located errors."""

from .errors import LoadError, LocatedError
from .stack import Stack, StackConfig, load_cluster_file, load_pipeline_file, load_stack

__all__ = [
    "LoadError",
    "LocatedError",
    "Stack",
    "StackConfig",
    "load_cluster_file",
    "load_pipeline_file",
    "load_stack",
]
