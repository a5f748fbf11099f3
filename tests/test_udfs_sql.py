"""SQL tables: their inputs come from Spark's parser, are kept in the project, and are checked.

Most tests seed the kept results (`.laktory/sql_inputs.json`), which is what a machine without
Java sees once the file is committed: no JVM starts. The parser itself is tested on the JVM.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from laktory_pulumi.cli import EXIT_INVALID, main
from laktory_pulumi.graph.model import build_graph
from laktory_pulumi.loader import load_stack
from laktory_pulumi.models import Pipeline
from laktory_pulumi.models.sql_inputs import CACHE_FILE, query_key

REPO = Path(__file__).resolve().parent.parent
QUERY = "SELECT symbol, max(high) AS high FROM slv_quotes GROUP BY symbol"
PIPELINE = f"""\
name: pl-sql
tables:
  - name: slv_quotes
    builder:
      layer: SILVER
      table_source: {{name: brz_quotes, read_as_stream: false}}
  - name: brz_quotes
    builder:
      layer: BRONZE
      event_source: {{name: quote, producer: {{name: venue}}}}
  - name: gld_highs
    builder: {{layer: GOLD}}
    sql: "{QUERY}"
libraries:
  - notebook: {{path: /pipelines/dlt_brz_template.py}}
  - notebook: {{path: /pipelines/dlt_slv_template.py}}
  - notebook: {{path: /pipelines/dlt_gld_template.py}}
"""


def project(tmp_path: Path, text: str = PIPELINE, kept: dict[str, list[str]] | None = None) -> Path:
    root = tmp_path / "project"
    (root / "stacks" / "pipelines").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: lakehouse\nruntime: python\n")
    (root / "Pulumi.dev.yaml").write_text("config: {}\n")
    (root / "stacks" / "pipelines" / "pl-sql.yaml").write_text(text)
    (root / "notebooks").mkdir()
    for template in ("dlt_brz_template.py", "dlt_slv_template.py", "dlt_gld_template.py"):
        (root / "notebooks" / template).write_text((REPO / "notebooks" / template).read_text())
    if kept is not None:
        (root / CACHE_FILE).parent.mkdir()
        (root / CACHE_FILE).write_text(json.dumps(kept))
    return root


def test_kept_inputs_need_no_jvm_and_reach_the_graph_and_upstream(tmp_path: Path) -> None:
    root = project(tmp_path, kept={query_key(QUERY): ["slv_quotes"]})
    pipeline = load_stack(root, "dev").pipelines["pl-sql"]
    table = pipeline.table("gld_highs")
    assert table.sql_inputs == ["slv_quotes"]
    assert [t.name for t in pipeline.upstream(table)] == ["brz_quotes", "slv_quotes"]
    edges = {(e.source, e.target, e.kind) for e in build_graph(pipeline).edges}
    assert ("tbl_slv_quotes", "tbl_gld_highs", "batch") in edges
    # What the notebooks read back on Databricks: the inputs travel with the metadata.
    again = Pipeline.model_validate_json(pipeline.model_dump_json())
    assert again.table("gld_highs").sql_inputs == ["slv_quotes"]


def test_a_sql_table_reading_a_table_not_in_the_pipeline_fails_at_its_sql_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, kept={query_key(QUERY): ["slv_quote"]})
    assert main(["validate", "--project", str(root), "--stack", "dev"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.startswith(
        "stacks/pipelines/pl-sql.yaml:13:10: tables[2].sql: no table 'slv_quote' in this "
        "pipeline (did you mean 'slv_quotes'?)"
    ), err


def test_a_cycle_through_a_query_is_a_validation_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.replace("name: brz_quotes, read_as_stream", "name: gld_highs, read_as_stream")
    root = project(tmp_path, text, kept={query_key(QUERY): ["slv_quotes"]})
    assert main(["validate", "--project", str(root), "--stack", "dev"]) == EXIT_INVALID
    assert "tables read each other in a cycle" in capsys.readouterr().err


def test_a_sql_table_takes_no_builder_source() -> None:
    data = yaml.safe_load(PIPELINE)
    data["tables"][2]["sql_inputs"] = ["slv_quotes"]
    data["tables"][2]["builder"]["table_source"] = {"name": "slv_quotes"}
    with pytest.raises(ValidationError, match="a table defined by sql takes no source"):
        Pipeline.model_validate(data)


def test_outside_a_project_the_inputs_must_travel_with_the_table() -> None:
    data = yaml.safe_load(PIPELINE)
    with pytest.raises(ValidationError, match="the tables this query reads are not known"):
        Pipeline.model_validate(data)
    data["tables"][2]["sql_inputs"] = ["slv_quotes"]
    assert Pipeline.model_validate(data).table("gld_highs").sql_inputs == ["slv_quotes"]


@pytest.mark.spark
def test_spark_parses_the_query_and_the_result_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pyspark")
    query = (
        "WITH recent AS (SELECT * FROM brz_quotes WHERE high > 0) "
        "SELECT r.symbol, s.high FROM recent r JOIN slv_quotes s ON r.symbol = s.symbol "
        "WHERE r.symbol IN (SELECT symbol FROM cat.ref.symbols)"
    )
    root = project(tmp_path, PIPELINE.replace(QUERY, query))
    pipeline = load_stack(root, "dev").pipelines["pl-sql"]
    # The CTE's name is not a table; the subquery's external table is an input, left out of
    # the pipeline's checks by its dotted name.
    assert sorted(pipeline.table("gld_highs").sql_inputs or []) == [
        "brz_quotes",
        "cat.ref.symbols",
        "slv_quotes",
    ]
    kept = json.loads((root / CACHE_FILE).read_text())
    assert sorted(kept[query_key(query)]) == ["brz_quotes", "cat.ref.symbols", "slv_quotes"]

    (root / "stacks" / "pipelines" / "pl-sql.yaml").write_text(
        PIPELINE.replace(QUERY, "SELEC symbol FROM slv_quotes")
    )
    assert main(["validate", "--project", str(root), "--stack", "dev"]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.startswith("stacks/pipelines/pl-sql.yaml:13:10: tables[2].sql: the query does not "
                          "parse: [PARSE_SYNTAX_ERROR]"), err  # fmt: skip
    assert "Traceback" not in err

    (root / "stacks" / "pipelines" / "pl-sql.yaml").write_text(
        PIPELINE.replace(QUERY, "SELECT * FROM STREAM(slv_quotes)")
    )
    assert main(["validate", "--project", str(root), "--stack", "dev"]) == EXIT_INVALID
    assert "a sql table reads its inputs whole" in capsys.readouterr().err
