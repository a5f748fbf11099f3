"""A pipeline as a Graphviz digraph, rendered to SVG or PNG by Graphviz's `dot`.

The `graphviz` Python package (extra `graph`) is imported only here, and this module only
when a picture is asked for, so Mermaid output needs neither the package nor `dot`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..local.run_state import RunState
from ..models import Pipeline
from .model import STYLES, Edge, Graph, Node, build_graph

if TYPE_CHECKING:
    import graphviz

EDGE_STYLES = {
    "stream": {"style": "bold", "penwidth": "2"},
    "batch": {"style": "solid"},
    "quarantine": {"style": "dotted", "color": STYLES["quarantine"].stroke},
    "sink": {"style": "dashed", "penwidth": "2", "color": STYLES["sink"].stroke},
}
"""Bold arrows for streaming reads, plain ones for batch reads, dotted ones to quarantine,
dashed ones to sinks."""


def graphviz_digraph(pipeline: Pipeline, run_state: RunState | None = None) -> graphviz.Digraph:
    """The digraph of `pipeline`, with the counts of `run_state` if given."""
    return render_digraph(build_graph(pipeline, run_state))


def render_digraph(graph: Graph) -> graphviz.Digraph:
    """A left-to-right `graphviz.Digraph` of `graph`, filled with each node kind's colours."""
    import graphviz

    digraph = graphviz.Digraph(
        name=graph.name,
        graph_attr={"rankdir": "LR", "label": graph.name, "labelloc": "t", "fontname": "Helvetica"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10"},
    )
    for node in graph.nodes:
        digraph.node(node.id, **_node_attrs(node))
    for edge in graph.edges:
        digraph.edge(edge.source, edge.target, **_edge_attrs(edge))
    return digraph


def _node_attrs(node: Node) -> dict[str, str]:
    import graphviz

    style = STYLES[node.kind]
    attrs = {
        "label": "\\n".join(graphviz.escape(line) for line in node.lines),
        "fillcolor": style.fill,
        "color": style.stroke,
        "fontcolor": style.font,
    }
    if node.kind == "external":
        attrs["style"] = "rounded,filled,dashed"
    if node.kind == "sink":
        attrs["shape"] = "cds"  # an arrow-shaped box: rows leave the pipeline there
    return attrs


def _edge_attrs(edge: Edge) -> dict[str, str]:
    attrs = dict(EDGE_STYLES[edge.kind])
    if edge.label:
        attrs["label"] = edge.label
    return attrs


def picture_bytes(digraph: graphviz.Digraph, fmt: str) -> bytes:
    """`digraph` rendered as `fmt` (`svg`, `png`) by `dot`, through a pipe: no file is written.

    Raises `graphviz.ExecutableNotFound` when `dot` is missing.
    """
    return digraph.pipe(format=fmt)
