"""A pipeline as a Mermaid flowchart: text for Markdown, GitHub and pull-request comments."""

from __future__ import annotations

from ..local.run_state import RunState
from ..models import Pipeline
from .model import STYLES, Edge, Graph, Node, build_graph

INDENT = "    "
ARROWS = {"stream": "==>", "batch": "-->", "quarantine": "-.->", "sink": "==>"}
"""Thick arrows for streaming reads and to sinks (labelled), plain ones for batch reads,
dotted ones to quarantine."""

# `#` first: the other replacements insert entities that start with it.
_ENTITIES = (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;"))


def mermaid(pipeline: Pipeline, run_state: RunState | None = None) -> str:
    """The `flowchart LR` text of `pipeline`, with the counts of `run_state` if given."""
    return render_mermaid(build_graph(pipeline, run_state))


def render_mermaid(graph: Graph) -> str:
    """Mermaid text of `graph`: nodes, edges, then one class per node; ends with a newline."""
    kinds = [kind for kind in STYLES if any(node.kind == kind for node in graph.nodes)]
    lines = [
        "flowchart LR",
        *(INDENT + _node(node) for node in graph.nodes),
        *(INDENT + _edge(edge) for edge in graph.edges),
        *(INDENT + _class_def(kind) for kind in kinds),
        *(f"{INDENT}class {node.id} {node.kind}" for node in graph.nodes),
    ]
    return "\n".join(lines) + "\n"


def escape_label(text: str) -> str:
    """Text safe inside a quoted Mermaid label (quotes, brackets and `#` as entities)."""
    for raw, entity in _ENTITIES:
        text = text.replace(raw, entity)
    return text


def _node(node: Node) -> str:
    text = "<br/>".join(escape_label(line) for line in node.lines)
    if node.kind == "sink":  # an asymmetric shape: rows leave the pipeline there
        return f'{node.id}>"{text}"]'
    return f'{node.id}["{text}"]'


def _edge(edge: Edge) -> str:
    label = f"|{escape_label(edge.label)}|" if edge.label else ""
    return f"{edge.source} {ARROWS[edge.kind]}{label} {edge.target}"


def _class_def(kind: str) -> str:
    style = STYLES[kind]  # type: ignore[index]
    return f"classDef {kind} fill:{style.fill},stroke:{style.stroke},color:{style.font}"
