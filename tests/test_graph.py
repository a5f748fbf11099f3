"""`laktory-pulumi graph`: Mermaid text, SVG/PNG through Graphviz, run-state counts, errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from laktory_pulumi.cli import main
from laktory_pulumi.graph import build_graph, graphviz_digraph, mermaid
from laktory_pulumi.loader import load_stack
from laktory_pulumi.local.run_state import ExpectationCounts, RunState, TableRun
from laktory_pulumi.models import Pipeline

REPO = Path(__file__).resolve().parents[1]
STOCK = "pl-stock-prices"
NO_DOT = (
    "graph: Graphviz's 'dot' program is not installed; install it with 'apt-get install "
    "graphviz' (Debian/Ubuntu) or 'brew install graphviz' (macOS), or use --format mermaid"
)
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")

NODE = re.compile(r'^    (?P<id>\w+)\["(?P<label>[^"]*)"\]$')
EDGE = re.compile(
    r"^    (?P<src>\w+) (?P<arrow>==>|-->|-\.->)(?:\|(?P<label>[^|]*)\|)? (?P<dst>\w+)$"
)
CLASS = re.compile(r"^    class (?P<id>\w+) (?P<kind>\w+)$")
CLASS_DEF = re.compile(r"^    classDef (?P<kind>\w+) fill:(?P<fill>#[0-9a-f]{6}),")


@pytest.fixture(scope="module")
def stock() -> Pipeline:
    return load_stack(REPO, "dev").pipelines[STOCK]


def parse_mermaid(text: str) -> dict[str, dict]:
    """Nodes (id -> label lines), edges (src, arrow, label, dst), classes and classDef fills."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    parsed: dict[str, dict] = {"nodes": {}, "edges": {}, "classes": {}, "fills": {}}
    for line in lines[1:]:
        if node := NODE.match(line):
            parsed["nodes"][node["id"]] = node["label"].split("<br/>")
        elif edge := EDGE.match(line):
            parsed["edges"][(edge["src"], edge["dst"])] = (edge["arrow"], edge["label"])
        elif cls := CLASS.match(line):
            parsed["classes"][cls["id"]] = cls["kind"]
        elif class_def := CLASS_DEF.match(line):
            parsed["fills"][class_def["kind"]] = class_def["fill"]
        else:
            raise AssertionError(f"unexpected Mermaid line: {line!r}")
    return parsed


def node_of(parsed: dict[str, dict], first_line: str) -> str:
    """The id of the one node whose label starts with `first_line`."""
    ids = [node_id for node_id, label in parsed["nodes"].items() if label[0] == first_line]
    assert len(ids) == 1, (first_line, parsed["nodes"])
    return ids[0]


def stock_run_state() -> RunState:
    return RunState(
        pipeline=STOCK,
        status="COMPLETED",
        started_at="2025-01-06T09:00:00+00:00",
        seconds=21.5,
        tables={
            "brz_stock_prices": TableRun(rows_written=1250, rows_total=1250),
            "slv_stock_prices": TableRun(
                rows_written=1237,
                rows_total=1237,
                quarantined=13,
                expectations={
                    "known_symbol": ExpectationCounts(
                        action="DROP", passed_rows=1237, failed_rows=13
                    ),
                    "positive_prices": ExpectationCounts(
                        action="WARN", passed_rows=1233, failed_rows=4
                    ),
                    "extra_fail_rule": ExpectationCounts(
                        action="FAIL", passed_rows=1240, failed_rows=2
                    ),
                },
            ),
            "slv_stock_prices_quarantine": TableRun(rows_written=13, rows_total=13),
            "gld_stock_performances": TableRun(rows_written=75, rows_total=75),
        },
    )


def test_mermaid_draws_every_table_source_and_read_of_the_stock_pipeline(stock: Pipeline) -> None:
    parsed = parse_mermaid(mermaid(stock))
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", node_id) for node_id in parsed["nodes"])

    ids = {table.name: node_of(parsed, table.name) for table in stock.tables}
    assert sorted(ids) == [
        "brz_stock_metadata",
        "brz_stock_prices",
        "gld_stock_performances",
        "slv_star_stock_prices",
        "slv_stock_metadata",
        "slv_stock_prices",
    ]
    for table in stock.tables:
        assert parsed["nodes"][ids[table.name]][1] == table.layer
        assert parsed["classes"][ids[table.name]] == table.layer.lower()
        source = table.builder.source
        src = (
            node_of(parsed, f"events: {source.producer.name}/{source.name}")
            if table.builder.event_source
            else ids[source.name]
        )
        want = ("==>", "stream") if source.read_as_stream else ("-->", None)
        assert parsed["edges"][(src, ids[table.name])] == want, table.name

    # What stacks/pipelines/pl-stock-prices.yaml declares, spelt out.
    events = node_of(parsed, "events: yahoo-finance/stock_price")
    assert events == "evt_yahoo_finance_stock_price"
    assert parsed["classes"][events] == "source"
    metadata_events = node_of(parsed, "events: yahoo-finance/stock_metadata")
    brz, slv, gld = ids["brz_stock_prices"], ids["slv_stock_prices"], ids["gld_stock_performances"]
    brz_meta, slv_meta = ids["brz_stock_metadata"], ids["slv_stock_metadata"]
    star = ids["slv_star_stock_prices"]
    quarantine = node_of(parsed, "slv_stock_prices_quarantine")
    assert parsed["edges"] == {
        (events, brz): ("==>", "stream"),
        (metadata_events, brz_meta): ("==>", "stream"),
        (brz, slv): ("==>", "stream"),
        (slv, quarantine): ("-.->", "quarantine"),
        (brz_meta, slv_meta): ("-->", None),
        (slv, star): ("==>", "stream"),
        # The silver-star table joins the metadata, read whole: a stream-static join.
        (slv_meta, star): ("-->", "join"),
        (star, gld): ("-->", None),
    }
    assert parsed["classes"][quarantine] == "quarantine"
    assert set(parsed["classes"]) == set(parsed["nodes"])
    assert parsed["fills"] == {
        "source": "#dbeafe",
        "bronze": "#cd7f32",
        "silver": "#c0c0c0",
        "silver_star": "#e5e4e2",
        "gold": "#ffd700",
        "quarantine": "#f8d7da",
    }


def test_the_cli_prints_the_same_mermaid_and_nothing_else(
    stock: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["graph", STOCK, "--stack", "dev"]) == 0
    out, err = capsys.readouterr()
    assert out == mermaid(stock)
    assert err == ""


def test_run_state_counts_appear_in_the_labels(
    stock: Pipeline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stock_run_state().write(tmp_path / "state")
    state = RunState.read(tmp_path / "state")
    parsed = parse_mermaid(mermaid(stock, state))
    labels = {label[0]: label for label in parsed["nodes"].values()}
    assert labels["brz_stock_prices"] == ["brz_stock_prices", "BRONZE", "rows: 1,250"]
    assert labels["slv_stock_prices"] == [
        "slv_stock_prices",
        "SILVER",
        "rows: 1,237",
        "dropped: 13",
        "failed: 2",
        "warned: 4",
        "quarantined: 13",
    ]
    assert labels["gld_stock_performances"] == ["gld_stock_performances", "GOLD", "rows: 75"]
    assert labels["slv_stock_prices_quarantine"][-1] == "rows: 13"
    assert labels["events: yahoo-finance/stock_price"] == ["events: yahoo-finance/stock_price"]
    assert "rows:" not in mermaid(stock)

    monkeypatch.chdir(REPO)
    assert main(["graph", STOCK, "--run-state", str(tmp_path / "state")]) == 0
    assert capsys.readouterr().out == mermaid(stock, state)
    assert (
        '"slv_stock_prices\\nSILVER\\nrows: 1,237\\ndropped: 13'
        in graphviz_digraph(stock, state).source
    )


def test_zero_counts_are_left_out_and_a_table_missing_from_the_run_says_so(
    stock: Pipeline,
) -> None:
    state = RunState(
        pipeline=STOCK,
        status="FAILED",
        started_at="2025-01-06T09:00:00+00:00",
        seconds=3.0,
        tables={
            "slv_stock_prices": TableRun(
                rows_written=5,
                rows_total=5,
                expectations={"known_symbol": ExpectationCounts(action="DROP", passed_rows=5)},
                error="Division by zero\nat line 3",
            )
        },
    )
    labels = {n.lines[0]: n.lines for n in build_graph(stock, state).nodes}
    assert labels["slv_stock_prices"] == (
        "slv_stock_prices",
        "SILVER",
        "rows: 5",
        "quarantined: 0",
        "error: Division by zero",
    )
    assert labels["brz_stock_prices"][-1] == "not in this run"


def test_a_missing_run_state_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["graph", STOCK, "--run-state", str(tmp_path / "nothing")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"graph: no run state at {tmp_path / 'nothing' / 'runs' / 'latest.json'}: "
        "run `laktory-pulumi run` first"
    ]


def test_a_run_state_of_another_pipeline_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stock_run_state().model_copy(update={"pipeline": "pl-other"}).write(tmp_path)
    monkeypatch.chdir(REPO)
    assert main(["graph", STOCK, "--run-state", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "graph: the run state is of pipeline 'pl-other', not 'pl-stock-prices'\n"


def test_an_unknown_pipeline_lists_those_that_exist(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["graph", "pl-stock-price", "--stack", "dev"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "graph: no pipeline 'pl-stock-price' in stacks/pipelines (did you mean "
        "'pl-stock-prices'?); pipelines: pl-stock-prices\n"
    )


def test_the_digraph_shares_the_nodes_and_styles_the_edges(stock: Pipeline) -> None:
    graph = build_graph(stock)
    source = graphviz_digraph(stock).source
    assert "rankdir=LR" in source
    for node in graph.nodes:
        assert re.search(rf"^\t{node.id} \[", source, re.MULTILINE), node.id
    assert re.search(r"^\ttbl_brz_stock_prices \[.*fillcolor=\"#cd7f32\"", source, re.MULTILINE)
    assert re.search(r"^\ttbl_slv_stock_prices \[.*fillcolor=\"#c0c0c0\"", source, re.MULTILINE)
    assert re.search(r"^\ttbl_gld_stock_performances \[.*fillcolor=\"#ffd700\"", source, re.M)
    edges = dict(
        re.findall(r"^\t(\w+ -> \w+) \[(.*)\]$", source, re.MULTILINE),
    )
    assert set(edges) == {f"{e.source} -> {e.target}" for e in graph.edges}
    assert "style=bold" in edges["tbl_brz_stock_prices -> tbl_slv_stock_prices"]
    assert "style=solid" in edges["tbl_slv_star_stock_prices -> tbl_gld_stock_performances"]
    assert "style=solid" in edges["tbl_slv_stock_metadata -> tbl_slv_star_stock_prices"]
    assert "style=dotted" in edges["tbl_slv_stock_prices -> tbl_slv_stock_prices_quarantine"]


def test_ids_are_sanitized_and_labels_escaped() -> None:
    pipeline = Pipeline.model_validate(
        {
            "name": "pl-odd",
            "tables": [
                {
                    "name": "end",
                    "builder": {
                        "layer": "bronze",
                        "event_source": {"name": 'say "hi" <now>', "producer": {"name": "a-b.c"}},
                    },
                },
                {
                    "name": "ref",
                    "builder": {
                        "layer": "silver",
                        "table_source": {"name": "main.ops.ref-data", "read_as_stream": False},
                    },
                },
                {
                    "name": "twin",
                    "builder": {
                        "layer": "bronze",
                        "event_source": {"name": 'say "hi" <now>', "producer": {"name": "a_b_c"}},
                    },
                },
            ],
        }
    )
    parsed = parse_mermaid(mermaid(pipeline))
    assert parsed["nodes"] == {
        "evt_a_b_c_say__hi___now_": ["events: a-b.c/say #quot;hi#quot; #lt;now#gt;"],
        "tbl_end": ["end", "BRONZE"],
        "ext_main_ops_ref_data": ["external: main.ops.ref-data"],
        "tbl_ref": ["ref", "SILVER"],
        "evt_a_b_c_say__hi___now__2": ["events: a_b_c/say #quot;hi#quot; #lt;now#gt;"],
        "tbl_twin": ["twin", "BRONZE"],
    }
    assert parsed["edges"][("ext_main_ops_ref_data", "tbl_ref")] == ("-->", None)
    assert parsed["classes"]["ext_main_ops_ref_data"] == "external"


def test_mermaid_output_goes_to_a_file_when_asked(
    stock: Pipeline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(REPO)
    target = tmp_path / "sub" / "stock.mmd"
    assert main(["graph", STOCK, "--output", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target}\n"
    assert target.read_text() == mermaid(stock)
    assert sorted(p.name for p in target.parent.iterdir()) == ["stock.mmd"]


@needs_dot
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_pictures_are_rendered_by_dot(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    target = tmp_path / f"stock.{fmt}"
    assert main(["graph", STOCK, "--stack", "dev", "--format", fmt, "--output", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target}\n"
    data = target.read_bytes()
    assert len(data) > 1000
    if fmt == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        text = data.decode()
        assert "<svg" in text
        assert "slv_stock_prices_quarantine" in text
        assert "events: yahoo&#45;finance/stock_price" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name], "no temporary file left"
    assert target.stat().st_mode & 0o777 != 0o600, "usual permissions, not mkstemp's"


@needs_dot
def test_a_picture_defaults_to_the_pipeline_name_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["graph", STOCK, "--project", str(REPO), "--format", "svg"]) == 0
    assert capsys.readouterr().out == f"wrote {STOCK}.svg\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{STOCK}.svg"]
    assert (tmp_path / f"{STOCK}.svg").read_text().count("<svg") == 1


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_without_dot_a_picture_is_refused_and_nothing_is_written(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.chdir(REPO)
    code = main(["graph", STOCK, "--format", fmt, "--output", str(out_dir / f"stock.{fmt}")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == NO_DOT + "\n"
    assert list(out_dir.iterdir()) == []
    assert not (REPO / f"{STOCK}.{fmt}").exists()


def test_invalid_yaml_gives_the_same_located_error_as_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "stacks", tmp_path / "stacks")
    for config in REPO.glob("Pulumi*.yaml"):
        shutil.copy(config, tmp_path / config.name)
    pipeline_file = tmp_path / "stacks" / "pipelines" / f"{STOCK}.yaml"
    text = pipeline_file.read_text()
    assert text.count("layer: SILVER\n") == 2
    pipeline_file.write_text(text.replace("layer: SILVER\n", "layer: SILVERR\n", 1))
    line = 1 + text[: text.index("layer: SILVER\n")].count("\n")
    monkeypatch.chdir(tmp_path)

    assert main(["graph", STOCK, "--stack", "dev"]) == 2
    graph_out, graph_err = capsys.readouterr()
    assert main(["validate", "--stack", "dev"]) == 2
    validate_out, validate_err = capsys.readouterr()

    assert graph_out == validate_out == ""
    assert graph_err == validate_err
    lines = graph_err.splitlines()
    assert len(lines) == 1, graph_err
    assert lines[0].startswith(f"stacks/pipelines/{STOCK}.yaml:{line}:")
    assert ": tables[2].builder.layer: " in lines[0]


def test_the_docs_show_the_current_mermaid_of_the_stock_pipeline(stock: Pipeline) -> None:
    doc = (REPO / "docs" / "graph.md").read_text()
    assert f"```mermaid\n{mermaid(stock)}```\n" in doc, (
        "docs/graph.md is stale: paste the output of `laktory-pulumi graph pl-stock-prices`"
    )
