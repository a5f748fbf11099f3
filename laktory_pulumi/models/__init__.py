"""The models: YAML in, validated objects out. The single source of truth of the schema."""

from .base import Model, RuleViolation
from .builder import Aggregate, Aggregation, TableBuilder, TimeWindow
from .cluster import Autoscale, Cluster, ClusterSpec, InitScript, PipelineCluster
from .column import Column, ColumnExpression, LitArg, SqlArg, ValueArg
from .permission import CatalogGrant, ClusterPermission, PipelinePermission
from .pipeline import FileLibrary, Library, NotebookLibrary, Notification, Pipeline
from .sources import Cdc, EventSource, Producer, TableSource, Watermark
from .table import Expectation, Table

__all__ = [
    "Aggregate",
    "Aggregation",
    "Autoscale",
    "CatalogGrant",
    "Cdc",
    "Cluster",
    "ClusterPermission",
    "ClusterSpec",
    "Column",
    "ColumnExpression",
    "EventSource",
    "Expectation",
    "FileLibrary",
    "InitScript",
    "Library",
    "LitArg",
    "Model",
    "NotebookLibrary",
    "Notification",
    "Pipeline",
    "PipelineCluster",
    "PipelinePermission",
    "Producer",
    "RuleViolation",
    "SqlArg",
    "Table",
    "TableBuilder",
    "TableSource",
    "TimeWindow",
    "ValueArg",
    "Watermark",
]
