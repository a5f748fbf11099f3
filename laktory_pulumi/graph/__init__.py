"""Pictures of a pipeline's tables and lineage: Mermaid text, or SVG/PNG through Graphviz.

One model (`build_graph`: nodes and edges) and two renderers (`mermaid`, `graphviz_digraph`).
"""

from .command import graph_command
from .dot import graphviz_digraph
from .mermaid import mermaid
from .model import Edge, Graph, GraphError, Node, build_graph

__all__ = [
    "Edge",
    "Graph",
    "GraphError",
    "Node",
    "build_graph",
    "graph_command",
    "graphviz_digraph",
    "mermaid",
]
