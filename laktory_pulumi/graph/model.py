"""The nodes and edges of a pipeline's picture, shared by the Mermaid and Graphviz renderers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..local.run_state import RunState, TableRun
from ..models import Pipeline
from ..models.sources import EventSource, TableSource
from ..models.table import Table

NodeKind = Literal[
    "source", "external", "bronze", "silver", "silver_star", "gold", "quarantine", "sink"
]
EdgeKind = Literal["stream", "batch", "quarantine", "sink"]


@dataclass(frozen=True)
class Style:
    """Colours of one kind of node."""

    fill: str
    stroke: str
    font: str = "#000000"


STYLES: dict[NodeKind, Style] = {
    "source": Style(fill="#dbeafe", stroke="#3b82f6"),
    "external": Style(fill="#e5e7eb", stroke="#6b7280"),
    "bronze": Style(fill="#cd7f32", stroke="#8b5a2b"),
    "silver": Style(fill="#c0c0c0", stroke="#808080"),
    "silver_star": Style(fill="#e5e4e2", stroke="#708090"),
    "gold": Style(fill="#ffd700", stroke="#b8860b"),
    "quarantine": Style(fill="#f8d7da", stroke="#c0392b"),
    "sink": Style(fill="#d1fae5", stroke="#059669"),
}
"""One style per node kind, in the order renderers declare them."""


class GraphError(ValueError):
    """The picture cannot be drawn as asked (e.g. a run state of another pipeline)."""


@dataclass(frozen=True)
class Node:
    """A box of the picture: a source, a table, a quarantine table or a sink."""

    id: str
    lines: tuple[str, ...]
    kind: NodeKind


@dataclass(frozen=True)
class Edge:
    """An arrow from where rows come from to where they go."""

    source: str
    target: str
    kind: EdgeKind
    join: bool = False
    """The target joins the source's rows (`joins`), rather than reading it as its source."""

    @property
    def label(self) -> str | None:
        """Text on the arrow: streams, joins, quarantines and sinks are named, batch reads are
        plain."""
        if self.join:
            return "stream join" if self.kind == "stream" else "join"
        return None if self.kind == "batch" else self.kind


@dataclass
class Graph:
    """A pipeline's lineage: nodes in declaration order, then the edges between them."""

    name: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def safe_id(text: str) -> str:
    """`yahoo-finance.stock_price` -> `yahoo_finance_stock_price`: letters, digits, `_`."""
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


class _Ids:
    """Node ids, unique even when two keys sanitize to the same text."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], str] = {}

    def get(self, prefix: str, name: str) -> tuple[str, bool]:
        """The id of `name` among `prefix` nodes, and whether it is new."""
        key = (prefix, name)
        if key in self._by_key:
            return self._by_key[key], False
        base = f"{prefix}_{safe_id(name)}"
        candidate, suffix = base, 2
        while candidate in self._by_key.values():
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        self._by_key[key] = candidate
        return candidate, True


def build_graph(pipeline: Pipeline, run_state: RunState | None = None) -> Graph:
    """Nodes and edges of `pipeline`; with `run_state`, tables carry that run's counts."""
    if run_state is not None and run_state.pipeline != pipeline.name:
        raise GraphError(
            f"the run state is of pipeline '{run_state.pipeline}', not '{pipeline.name}'"
        )
    graph = Graph(name=pipeline.name)
    ids = _Ids()
    for table in pipeline.tables:
        source_ids = [_add_source(graph, ids, source) for source in table.builder.sources]
        table_id, _ = ids.get("tbl", table.name)
        graph.nodes.append(_table_node(table_id, table, run_state))
        for source, source_id in zip(table.builder.sources, source_ids, strict=True):
            graph.edges.append(Edge(source_id, table_id, _read_kind(source)))
        for name in table.sql_inputs or []:  # a SQL table reads its inputs whole
            read = TableSource(name=name, read_as_stream=False)
            graph.edges.append(Edge(_add_source(graph, ids, read), table_id, "batch"))
        for join in table.builder.all_joins:
            other_id = _add_source(graph, ids, join.other)
            graph.edges.append(Edge(other_id, table_id, _read_kind(join.other), join=True))
        if table.quarantine:
            quarantine_id, _ = ids.get("tbl", table.quarantine_name)
            graph.nodes.append(_quarantine_node(quarantine_id, table, run_state))
            graph.edges.append(Edge(table_id, quarantine_id, "quarantine"))
    for sink in pipeline.sinks:  # published outside the pipeline: streamed from its table
        sink_id, _ = ids.get("snk", sink.name)
        lines = (sink.name, f"SINK: {sink.format}")
        if sink.function is not None:  # a foreach_batch sink: the handler it calls
            lines += (f"{sink.function.module_name}.{sink.function.function_name}",)
        graph.nodes.append(Node(sink_id, lines, "sink"))
        graph.edges.append(Edge(ids.get("tbl", sink.table)[0], sink_id, "sink"))
    return graph


def _read_kind(source: EventSource | TableSource) -> EdgeKind:
    return "stream" if source.read_as_stream else "batch"


def _add_source(graph: Graph, ids: _Ids, source: EventSource | TableSource) -> str:
    """The id of the node rows come from, adding an event or external node the first time."""
    if isinstance(source, EventSource):
        node_id, new = ids.get("evt", source.folder)
        if new:
            # A stream names its kind: `kafka: shop/orders` (its records, not landed files).
            kind = {"STREAM_KAFKA": "kafka", "STREAM_KINESIS": "kinesis"}.get(source.type)
            label = f"{kind or 'events'}: {source.folder}"
            graph.nodes.append(Node(node_id, (label,), "source"))
        return node_id
    if source.is_external:
        node_id, new = ids.get("ext", source.catalog_table_name)
        if new:
            label = f"external: {source.catalog_table_name}"
            graph.nodes.append(Node(node_id, (label,), "external"))
        return node_id
    return ids.get("tbl", source.name)[0]


def _table_node(node_id: str, table: Table, run_state: RunState | None) -> Node:
    lines = [table.name, table.layer]
    if table.transform is not None:  # the code the rows go through, named in the box
        lines.append(f"transform: {table.transform.module_name}.{table.transform.function_name}")
    if run_state is not None:
        lines += run_lines(run_state.tables.get(table.name), quarantine=table.quarantine)
    return Node(node_id, tuple(lines), table.layer.lower())  # type: ignore[arg-type]


def _quarantine_node(node_id: str, table: Table, run_state: RunState | None) -> Node:
    lines = [table.quarantine_name, "QUARANTINE"]
    if run_state is not None:
        run = run_state.tables.get(table.quarantine_name)
        if run is not None:
            lines.append(f"rows: {run.rows_total:,}")
    return Node(node_id, tuple(lines), "quarantine")


def run_lines(run: TableRun | None, *, quarantine: bool = False) -> list[str]:
    """A table's figures of one run: rows, then non-zero dropped/failed/warned, then the
    quarantined rows of a table with `quarantine: true` (and of no other)."""
    if run is None:
        return ["not in this run"]
    failed_by_action = {"DROP": 0, "FAIL": 0, "WARN": 0}
    for counts in run.expectations.values():
        failed_by_action[counts.action] += counts.failed_rows
    lines = [f"rows: {run.rows_total:,}"]
    for action, word in (("DROP", "dropped"), ("FAIL", "failed"), ("WARN", "warned")):
        if failed_by_action[action]:
            lines.append(f"{word}: {failed_by_action[action]:,}")
    if quarantine:  # a run state written before quarantines were declared-only may say more
        lines.append(f"quarantined: {run.quarantined:,}")
    if run.error:
        lines.append(f"error: {_first_line(run.error)}")
    return lines


def _first_line(text: str, width: int = 60) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown"
    return line if len(line) <= width else line[: width - 3] + "..."
