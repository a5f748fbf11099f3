"""The table builder's Laktory v0.0.22 fields: aliases, rules, templates (issue #11; no Spark)."""

from __future__ import annotations

from pathlib import Path

import pytest

from laktory_pulumi.loader import LoadError, load_pipeline_file
from laktory_pulumi.models import Pipeline
from laktory_pulumi.models.builder import LAYER_TEMPLATES
from laktory_pulumi.schema import json_schema

LIBRARIES = "".join(
    f"  - notebook: {{path: /pipelines/{name}.py}}\n" for name in LAYER_TEMPLATES.values()
)
HEADER = f"name: pl-test\nlibraries:\n{LIBRARIES}tables:\n"
PRICES = """\
  - name: brz_prices
    builder:
      layer: BRONZE
      event_source: {name: price, producer: {name: p}}
  - name: slv_meta
    builder:
      layer: SILVER
      table_source: {name: brz_prices}  # a stream: the tables below may stream it
    columns:
      - {name: symbol, sql_expression: data.symbol}
"""


def load(tmp_path: Path, tables: str, header: str = HEADER) -> Pipeline:
    path = tmp_path / "pl-test.yaml"
    path.write_text(header + PRICES + tables)
    return load_pipeline_file(path, {})


def error_of(tmp_path: Path, tables: str, header: str = HEADER) -> tuple[int, str, str]:
    """(line, field path, message) of the one error loading the file gives."""
    with pytest.raises(LoadError) as caught:
        load(tmp_path, tables, header)
    (error,) = caught.value.errors
    return error.line, error.field, error.message


def line_of(tmp_path: Path, text: str) -> int:
    lines = (tmp_path / "pl-test.yaml").read_text().splitlines()
    return next(index for index, line in enumerate(lines, 1) if text in line)


STAR = """\
  - name: star
    builder:
      layer: silver_star
      table_source: {name: slv_meta, read_as_stream: false}
      joins:
        - other: {name: slv_meta, read_as_stream: false, selects: {symbol: symbol}}
          on: [symbol]
"""


def test_laktory_spellings_load_with_their_meaning(tmp_path: Path) -> None:
    pipeline = load(
        tmp_path,
        STAR
        + """\
  - name: gld
    builder:
      layer: GOLD
      template: GOLD
      table_source: {name: star, read_as_stream: false}
      aggregation:
        groupby_columns: [symbol]
        groupby_window: {time_column: created_at, window_duration: 1 day}
        agg_expressions:
          - {name: n, spark_func_name: count, spark_func_args: [symbol], type: double}
      drop_columns: [n]
      pipeline_name: pl-test
""",
    )
    star, gold = pipeline.table("star"), pipeline.table("gld")
    assert star.layer == "SILVER_STAR"
    # YAML 1.1 reads `on:` as true: in a join it is the key `on`.
    assert star.builder.joins[0].on == ["symbol"]
    assert star.builder.joins[0].how == "left"
    assert not star.builder.drops_source_columns  # Laktory's silver-star default
    assert star.builder.notebook == "dlt_slv_star_template"
    assert gold.builder.aggregation is not None
    assert gold.builder.aggregation.window is not None
    assert gold.builder.aggregation.window.window_duration == "1 day"
    assert gold.builder.aggregation.aggregates[0].type == "double"
    assert gold.builder.notebook == "dlt_gld_template"
    assert gold.builder.drop_columns == ["n"]
    # The metadata file (field names) reads back the same.
    assert Pipeline.model_validate_json(pipeline.model_dump_json()) == pipeline


def test_the_json_schema_knows_both_names_of_an_aliased_field() -> None:
    definitions = json_schema()["$defs"]
    aggregation = definitions["Aggregation"]["properties"]
    assert {"window", "groupby_window", "aggregates", "agg_expressions"} <= set(aggregation)
    assert "Alias" in aggregation["groupby_window"]["description"]
    assert aggregation["agg_expressions"]["items"] == aggregation["aggregates"]["items"]
    builder = definitions["TableBuilder"]["properties"]
    assert {"joins", "joins_post_aggregation", "window_filter", "drop_columns", "template"} <= set(
        builder
    )


def test_a_column_type_defaults_to_string(tmp_path: Path) -> None:
    assert load(tmp_path, "").table("slv_meta").columns[0].type == "string"


def test_a_join_of_an_unknown_table_is_located_with_a_did_you_mean(tmp_path: Path) -> None:
    line, field, message = error_of(
        tmp_path, STAR.replace("other: {name: slv_meta", "other: {name: slv_mta")
    )
    assert field == "tables[2].builder.joins[0].other.name"
    assert line == line_of(tmp_path, "slv_mta")
    assert "no table 'slv_mta' in this pipeline (did you mean 'slv_meta'?)" in message


def test_a_cycle_through_a_join_is_located_at_the_join(tmp_path: Path) -> None:
    tables = (
        STAR
        + """\
  - name: loop
    builder:
      layer: SILVER
      table_source: {name: slv_meta}
      joins:
        - other: {name: star, read_as_stream: false}
          on: [symbol]
"""
    )
    cyclic = tables.replace(
        "joins:\n        - other: {name: slv_meta, read_as_stream: false, selects: {symbol: symbol}}",
        "joins:\n        - other: {name: loop, read_as_stream: false, selects: {symbol: symbol}}",
    )
    line, field, message = error_of(tmp_path, cyclic)
    assert message.startswith("tables read each other in a cycle: ")
    assert set(message.split(": ")[1].split(" -> ")) == {"star", "loop"}
    assert field.startswith("tables[") and ".joins[0].other.name" in field
    assert line in (
        line_of(tmp_path, "other: {name: loop"),
        line_of(tmp_path, "other: {name: star"),
    )


def test_upstream_follows_joins(tmp_path: Path) -> None:
    pipeline = load(
        tmp_path,
        STAR.replace("table_source: {name: slv_meta,", "table_source: {name: brz_prices,"),
    )
    assert [t.name for t in pipeline.upstream(pipeline.table("star"))] == ["brz_prices", "slv_meta"]


STREAMING_STAR = STAR.replace(
    "table_source: {name: slv_meta, read_as_stream: false}", "table_source: {name: slv_meta}"
)
OTHER_STREAMS = ("other: {name: slv_meta, read_as_stream: false,", "other: {name: slv_meta,")


@pytest.mark.parametrize(
    ("star", "change", "field", "fragment"),
    [
        (
            STAR,
            OTHER_STREAMS,
            "joins[0].other.read_as_stream",
            "a batch source cannot join a stream",
        ),
        (
            STREAMING_STAR,
            ("on: [symbol]", "on: [symbol]\n          how: full"),
            "joins[0].how",
            "a stream joined with a batch read supports",
        ),
        (  # time constraints on a stream-static join would do nothing
            STREAMING_STAR,
            ("on: [symbol]", "on: [symbol]\n          time_constraint_interval_upper: 1 hour"),
            "joins[0].time_constraint_interval_upper",
            "time constraints bound stream-stream joins only",
        ),
        (
            STAR,
            ("on: [symbol]", "on: [symbol]\n          on_expression: left.a = other.a"),
            "joins[0].on_expression",
            "a join takes on or on_expression, not both",
        ),
        (
            STAR,
            ("layer: silver_star", "layer: silver_star\n      template: dlt_my_notebook.py"),
            "template",
            "built by notebook 'dlt_my_notebook', which is not among the pipeline's libraries",
        ),
        (
            STREAMING_STAR,
            (
                "      joins:",
                "      window_filter: {partition_by: [symbol], order_by: [{sql_expression: x}]}\n"
                "      joins:",
            ),
            "window_filter",
            "window_filter needs a batch read",
        ),
    ],
)
def test_joins_and_templates_that_cannot_run_fail_validation(
    tmp_path: Path, star: str, change: tuple[str, str], field: str, fragment: str
) -> None:
    text = star.replace(*change)
    assert text != star
    _line, found_field, message = error_of(tmp_path, text)
    assert found_field == f"tables[2].builder.{field}"
    assert fragment in message


def test_a_stream_stream_join_needs_a_watermark_on_both_sides(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as caught:
        load(tmp_path, STREAMING_STAR.replace(*OTHER_STREAMS))
    fields = {error.field: error.message for error in caught.value.errors}
    assert "the other side needs a watermark" in fields["tables[2].builder.joins[0].other"]
    assert (
        "the table's source needs a watermark"
        in fields["tables[2].builder.joins[0].other.read_as_stream"]
    )
    watermarked = STREAMING_STAR.replace(
        "table_source: {name: slv_meta}",
        "table_source: {name: slv_meta, watermark: {column: t, threshold: 1 hour}}",
    ).replace(
        "other: {name: slv_meta, read_as_stream: false,",
        "other: {name: slv_meta, watermark: {column: t, threshold: 1 hour},",
    )
    join = load(tmp_path, watermarked).table("star").builder.joins[0]
    assert join.lower_bound == "60 seconds"  # Laktory's default constraint


def test_a_layer_template_must_be_deployed(tmp_path: Path) -> None:
    header = (
        "name: pl-test\nlibraries:\n  - notebook: {path: /pipelines/dlt_brz_template.py}\n"
        "  - notebook: {path: /pipelines/dlt_slv_template.py}\ntables:\n"
    )
    line, field, message = error_of(tmp_path, STAR, header)
    assert field == "tables[2].builder.layer"
    assert line == line_of(tmp_path, "layer: silver_star")
    assert "add /pipelines/dlt_slv_star_template.py to libraries" in message


def test_static_data_rows_need_columns_of_their_width(tmp_path: Path) -> None:
    table = """\
  - name: names
    builder: {layer: SILVER}
    columns: [{name: symbol}, {name: name}]
    data:
      - [AAPL, Apple]
      - [GOOGL]
"""
    _line, field, message = error_of(tmp_path, table)
    assert field == "tables[2].data"
    assert "one value per column (2); found a row of 1" in message
    fine = load(tmp_path, table.replace("[GOOGL]", "[GOOGL, Google]"))
    assert fine.table("names").data == [["AAPL", "Apple"], ["GOOGL", "Google"]]
    assert not fine.table("names").builder.has_source


def test_a_column_of_a_table_with_a_source_still_says_how_it_is_computed(tmp_path: Path) -> None:
    table = """\
  - name: names
    builder: {layer: SILVER, table_source: {name: slv_meta}}
    columns: [{name: symbol}]
"""
    _line, field, message = error_of(tmp_path, table)
    assert field == "tables[2].columns[0]"
    assert "exactly one of spark_func_name or sql_expression is required (found neither)" in message


def test_a_typo_under_an_aliased_key_gets_a_suggestion(tmp_path: Path) -> None:
    table = """\
  - name: gld
    builder:
      layer: GOLD
      table_source: {name: slv_meta, read_as_stream: false}
      aggregation:
        groupby_window: {time_column: t, window_duration: 1 day, strat_time: 1 hour}
        agg_expressions: [{name: n, sql_expression: count(*)}]
"""
    line, field, message = error_of(tmp_path, table)
    assert field == "tables[2].builder.aggregation.groupby_window.strat_time"
    assert line == line_of(tmp_path, "strat_time")
    assert message == "unknown key 'strat_time' (did you mean 'start_time'?)"


def test_a_template_picks_the_notebook_that_builds_a_table(tmp_path: Path) -> None:
    from laktory_pulumi.runtime.tables import tables_of

    header = HEADER.replace(
        "tables:\n", "  - notebook: {path: /pipelines/dlt_my_gold.py}\ntables:\n"
    )
    tables = """\
  - name: gld_custom
    builder:
      layer: GOLD
      template: dlt_my_gold.py
      table_source: {name: slv_meta, read_as_stream: false}
  - name: gld_by_layer_name
    builder:
      layer: GOLD
      template: silver
      table_source: {name: slv_meta, read_as_stream: false}
"""
    pipeline = load(tmp_path, tables, header)
    assert [t.name for t in tables_of(pipeline, "dlt_my_gold")] == ["gld_custom"]
    assert [t.name for t in tables_of(pipeline, "dlt_gld_template")] == []
    assert [t.name for t in tables_of(pipeline, "dlt_slv_template")] == [
        "slv_meta",
        "gld_by_layer_name",
    ]


def test_a_join_on_a_missing_column_is_located_with_what_exists(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as caught:
        load(tmp_path, STAR.replace("on: [symbol]", "on: [symbl]"))
    line = line_of(tmp_path, "on: [symbl]")
    errors = [(e.line, e.field, e.message) for e in caught.value.errors]
    # Both sides' columns are known: the source's declared (and system) columns, the other
    # side's selects.
    assert sorted(errors, key=lambda error: "source" not in error[2]) == [
        (
            line,
            "tables[2].builder.joins[0].on",
            "join column 'symbl' is not a column of the table's source (did you mean "
            "'symbol'?); it has symbol, _bronze_at, _tstamp, _silver_at",
        ),
        (
            line,
            "tables[2].builder.joins[0].on",
            "join column 'symbl' is not a column of slv_meta (did you mean 'symbol'?); it has "
            "symbol",
        ),
    ]
    # Unknown columns (a bronze table's events) are left to Spark.
    fine = STAR.replace(
        "{name: slv_meta, read_as_stream: false, selects: {symbol: symbol}}",
        "{name: brz_prices, read_as_stream: false}",
    )
    assert load(tmp_path, fine).table("star").builder.joins[0].other.name == "brz_prices"
