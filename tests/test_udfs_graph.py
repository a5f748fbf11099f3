"""Several sources and transforms in the graph, `--table` selection and the source rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from laktory_pulumi.cli import EXIT_INVALID, main
from laktory_pulumi.graph.model import build_graph
from laktory_pulumi.models import Pipeline

PIPELINE = """\
name: pl-multi
tables:
  - name: brz_a
    builder:
      layer: BRONZE
      event_source: {name: quote, producer: {name: venue_a}}
  - name: brz_b
    builder:
      layer: BRONZE
      event_sources:
        - {name: quote, producer: {name: venue_b}}
        - {name: quote, producer: {name: venue_c}}
  - name: slv_quotes
    builder:
      layer: SILVER
      table_sources:
        - {name: brz_a}
        - {name: brz_b}
    transform: {module_name: quote_transforms, function_name: with_band}
  - name: slv_other
    builder:
      layer: SILVER
      table_source: {name: brz_a}
"""


def load(text: str = PIPELINE) -> Pipeline:
    return Pipeline.model_validate(yaml.safe_load(text))


def test_every_source_is_an_edge_and_the_transform_is_named() -> None:
    graph = build_graph(load())
    edges = {(edge.source, edge.target, edge.kind) for edge in graph.edges}
    assert {
        ("evt_venue_b_quote", "tbl_brz_b", "stream"),
        ("evt_venue_c_quote", "tbl_brz_b", "stream"),
        ("tbl_brz_a", "tbl_slv_quotes", "stream"),
        ("tbl_brz_b", "tbl_slv_quotes", "stream"),
    } <= edges
    silver = next(node for node in graph.nodes if node.id == "tbl_slv_quotes")
    assert silver.lines == ("slv_quotes", "SILVER", "transform: quote_transforms.with_band")


def test_upstream_follows_every_listed_source() -> None:
    pipeline = load()
    upstream = [t.name for t in pipeline.upstream(pipeline.table("slv_quotes"))]
    assert sorted(upstream) == ["brz_a", "brz_b"]
    assert [t.name for t in pipeline.upstream(pipeline.table("slv_other"))] == ["brz_a"]


def test_table_selection_runs_the_flows_of_listed_sources() -> None:
    # Locally each append flow is a streaming table of its own and the target their union:
    # `--table slv_quotes` must run the flows too, or the union reads last run's rows.
    from laktory_pulumi.local.runner import selected_tables

    assert selected_tables(load(), ["slv_quotes"]) == [
        "brz_a",
        "brz_b__events_venue_b_quote",
        "brz_b__events_venue_c_quote",
        "brz_b",
        "slv_quotes__table_brz_a",
        "slv_quotes__table_brz_b",
        "slv_quotes",
    ]


def test_flow_names_come_from_stable_keys_not_positions() -> None:
    pipeline = load()
    builder = pipeline.table("slv_quotes").builder
    assert [builder.flow_name(s) for s in builder.sources] == [
        "slv_quotes__table_brz_a",
        "slv_quotes__table_brz_b",
    ]
    reordered = load(PIPELINE.replace("- {name: brz_a}\n        - {name: brz_b}",
                                      "- {name: brz_b}\n        - {name: brz_a}"))  # fmt: skip
    builder = reordered.table("slv_quotes").builder
    assert sorted(builder.flow_name(s) for s in builder.sources) == [
        "slv_quotes__table_brz_a",
        "slv_quotes__table_brz_b",
    ]


def project(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "project"
    (root / "stacks" / "pipelines").mkdir(parents=True)
    (root / "notebooks").mkdir()
    (root / "notebooks" / "quote_transforms.py").write_text("def with_band(df):\n    return df\n")
    (root / "Pulumi.yaml").write_text("name: lakehouse\nruntime: python\n")
    (root / "Pulumi.dev.yaml").write_text("config: {}\n")
    (root / "stacks" / "pipelines" / "pl-multi.yaml").write_text(text)
    return root


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("- {name: brz_b}\n", "- {name: brz_bb}\n"),
            "pl-multi.yaml:18:18: tables[2].builder.table_sources[1].name: no table 'brz_bb' in "
            "this pipeline (did you mean 'brz_b'?)",
        ),
        (
            (
                "table_source: {name: brz_a}",
                "table_source: {name: slv_quotes}",
                "- {name: brz_b}\n",
                "- {name: slv_other}\n",
            ),
            "tables[3].builder.table_source.name: tables read each other in a cycle: "
            "slv_quotes -> slv_other -> slv_quotes",
        ),
        (
            ("venue_c}}", "venue_b}}"),
            "pl-multi.yaml:10:7: tables[1].builder.event_sources: two sources share the flow "
            "key 'events_venue_b_quote'",
        ),
        (
            ("- {name: brz_a}\n", "- {name: brz_a, read_as_stream: false}\n"),
            "each listed source is appended as a stream",
        ),
    ],
)
def test_listed_sources_are_validated_at_their_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: tuple[str, ...],
    expected: str,
) -> None:
    text = PIPELINE
    for old, new in zip(change[::2], change[1::2], strict=True):
        text = text.replace(old, new)
    assert text != PIPELINE
    code = main(["validate", "--project", str(project(tmp_path, text)), "--stack", "dev"])
    _, err = capsys.readouterr()
    assert code == EXIT_INVALID
    assert expected in err, err
