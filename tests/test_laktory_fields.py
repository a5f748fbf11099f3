"""Laktory v0.0.22's source, table and column fields: each loads and means what it meant there.

Meanings from Laktory's source at tag v0.0.22: `models/datasources/eventdatasource.py` (the
reader options from `fmt`, `multiline`, `header`, `read_options`), `models/dataeventheader.py`
(`<events_root><producer>/<name>/`), `models/datasources/tabledatasource.py` (`from_pipeline`:
`dlt.read` or `spark.read.table` of `[catalog_name.][schema_name.]name`),
`models/compute/pipeline.py` (a table's catalog and schema are the pipeline's),
`models/sql/column.py` (`SparkFuncArg`: `F.lit` when `to_lit`, else `F.expr`).
The Spark tests read small folders and frames with the session `spark`, no pipeline run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from laktory_pulumi.loader import load_pipeline_file
from laktory_pulumi.loader.errors import LoadError
from laktory_pulumi.models import LitArg, Pipeline, SqlArg

HEAD = """\
name: pl-fields
catalog: dev
target: markets
tables:
"""


def _pipeline(tables: list[dict[str, Any]], **fields: Any) -> Pipeline:
    return Pipeline.model_validate(
        {"name": "pl-fields", "catalog": "dev", "target": "markets", "tables": tables, **fields}
    )


def _bronze(event_source: dict[str, Any], **table: Any) -> dict[str, Any]:
    return {
        "name": "brz",
        "builder": {"layer": "BRONZE", "event_source": {"producer": {"name": "p"}, **event_source}},
        **table,
    }


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "pl.yaml"
    path.write_text(HEAD + text)
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, {})
    return str(caught.value).splitlines()


# Models ------------------------------------------------------------------------------------


def test_event_source_fields_load_as_laktory_wrote_them() -> None:
    source = (
        _pipeline(
            [
                _bronze(
                    {
                        "name": "stock_price",
                        "description": "Prices every minute",
                        "producer": {"name": "yahoo", "description": "Yahoo Finance", "party": 3},
                        "type": "STORAGE_EVENTS",
                        "fmt": "CSV",
                        "multiline": True,
                        "header": False,
                        "read_options": {"sep": ";"},
                        "events_root": "/mnt/landing/events/",
                        "read_as_stream": False,
                    }
                )
            ]
        )
        .tables[0]
        .builder.event_source
    )
    assert source is not None
    assert source.format == "CSV"
    assert (source.producer.party, source.producer.description) == (3, "Yahoo Finance")
    assert source.spark_options == {"multiLine": "true", "header": "false", "sep": ";"}
    # Laktory's path: <events_root><producer>/<name>/.
    assert source.events_path(None) == "/mnt/landing/events/yahoo/stock_price/"


def test_laktory_defaults_header_true_and_landing_root_events() -> None:
    source = _pipeline([_bronze({"name": "e"})]).tables[0].builder.event_source
    assert source is not None
    assert source.spark_options == {"multiLine": "false", "header": "true"}
    assert source.events_path("/Volumes/dev/landing/files") == (
        "/Volumes/dev/landing/files/events/p/e/"
    )
    # read_options override the two flags, as Laktory applied them after.
    source = _pipeline([_bronze({"name": "e", "read_options": {"header": False}})]).tables[0]
    assert source.builder.event_source.spark_options["header"] == "false"  # type: ignore[union-attr]


def test_the_json_schema_knows_fmt_and_format() -> None:
    from laktory_pulumi.schema import json_schema

    schema = json_schema()
    event_source = schema["$defs"]["EventSource"]["properties"]
    assert event_source["fmt"]["enum"] == event_source["format"]["enum"]
    assert {"multiline", "header", "type", "description"} <= set(event_source)
    assert {"catalog_name", "schema_name", "grants"} <= set(schema["$defs"]["Table"]["properties"])
    assert "pii" in schema["$defs"]["Column"]["properties"]


def test_spark_func_arg_items_become_sql_or_literal_arguments() -> None:
    table = {
        "name": "slv",
        "builder": {"layer": "SILVER", "table_source": {"name": "brz"}},
        "columns": [
            {
                "name": "label",
                "pii": True,
                "spark_func_name": "concat",
                "spark_func_args": [
                    {"value": "data.symbol", "is_column": True, "to_lit": False},
                    {"value": "-", "to_lit": True},
                    {"value": "upper(data.symbol)", "is_column": False},
                ],
                "spark_func_kwargs": {},
            },
            {
                "name": "scaled",
                "type": "double",
                "spark_func_name": "pow",
                "spark_func_args": ["data.open"],
                "spark_func_kwargs": {"col2": {"value": 2.0, "to_lit": True}},
            },
        ],
    }
    pipeline = _pipeline([_bronze({"name": "e"}), table])
    label, scaled = pipeline.table("slv").columns
    assert label.spark_func_args == [
        SqlArg(sql="data.symbol"),
        LitArg(lit="-"),
        SqlArg(sql="upper(data.symbol)"),
    ]
    assert scaled.spark_func_kwargs == {"col2": LitArg(lit=2.0)}
    # pii is recorded: it stays in the metadata the notebooks read.
    dumped = pipeline.model_dump(mode="json", exclude_none=True)
    assert dumped["tables"][1]["columns"][0]["pii"] is True


def test_table_source_names_and_from_pipeline() -> None:
    pipeline = _pipeline(
        [
            _bronze({"name": "e"}),
            {
                "name": "slv",
                "catalog_name": "dev",
                "schema_name": "markets",
                "builder": {
                    "layer": "SILVER",
                    "table_source": {
                        "name": "brz",
                        "catalog_name": "dev",
                        "schema_name": "markets",
                    },
                },
            },
            {
                "name": "slv_ref",
                "builder": {
                    "layer": "SILVER",
                    "table_source": {
                        "name": "stock_names",
                        "schema_name": "reference",
                        "from_pipeline": False,
                        "read_as_stream": False,
                    },
                },
            },
        ]
    )
    in_pipeline = pipeline.table("slv").builder.table_source
    from_catalog = pipeline.table("slv_ref").builder.table_source
    assert in_pipeline is not None and from_catalog is not None
    assert not in_pipeline.is_external  # read through the pipeline, a dependency of slv
    assert [t.name for t in pipeline.upstream(pipeline.table("slv"))] == ["brz"]
    assert from_catalog.is_external
    assert from_catalog.catalog_table_name == "reference.stock_names"
    assert pipeline.upstream(pipeline.table("slv_ref")) == []
    # The graph draws it as a catalog table, by the name it is read with.
    from laktory_pulumi.graph.model import build_graph

    labels = [node.lines for node in build_graph(pipeline).nodes if node.kind == "external"]
    assert labels == [("external: reference.stock_names",)]


def test_fields_without_a_meaning_here_fail_at_their_line(tmp_path: Path) -> None:
    errors = _errors(
        tmp_path,
        """\
  - name: brz
    catalog_name: prod
    schema_name: markets
    builder:
      layer: BRONZE
      event_source:
        name: e
        producer:
          name: p
  - name: slv
    builder:
      layer: SILVER
      table_source:
        name: brz
        schema_name: finance
""",
    )
    assert len(errors) == 2
    assert errors[0].endswith(
        "pl.yaml:6:19: tables[0].catalog_name: catalog_name 'prod' is not the pipeline's "
        "catalog ('dev'): a pipeline publishes every table there; set the pipeline's catalog "
        "or remove catalog_name"
    )
    assert ":19:22: tables[1].builder.table_source.schema_name: schema_name 'finance'" in errors[1]
    assert "set from_pipeline: false" in errors[1]


@pytest.mark.parametrize(
    ("extra", "line", "field", "why"),
    [
        (
            "    grants:\n      - principal: analysts\n        privileges: [SELECT]\n",
            6,
            "tables[0].grants",
            "the table exists only after the pipeline's first update",
        ),
        (
            # STREAM_KAFKA and STREAM_KINESIS read now (tests/test_streams_*.py).
            "      event_source:\n        name: e\n        type: STORAGE_DUMPS\n"
            "        producer:\n          name: p\n",
            10,
            "tables[0].builder.event_source.type",
            "STORAGE_DUMPS had none in Laktory v0.0.22",
        ),
    ],
)
def test_grants_and_unreadable_types_are_refused_with_the_reason(
    tmp_path: Path, extra: str, line: int, field: str, why: str
) -> None:
    if "grants" in extra:
        body = (
            "  - name: brz\n" + extra + "    builder:\n      layer: BRONZE\n"
            "      event_source:\n        name: e\n        producer:\n          name: p\n"
        )
    else:
        body = "  - name: brz\n    builder:\n      layer: BRONZE\n" + extra
    (error,) = _errors(tmp_path, body)
    assert f": {field}: " in error
    assert why in error
    assert f"pl.yaml:{line}:" in error


def test_laktory_cdc_fields_load_and_misplaced_ones_say_why(tmp_path: Path) -> None:
    cdc = {
        "primary_keys": ["symbol"],
        "sequence_by": "created_at",
        "scd_type": 2,
        "apply_as_deletes": "op = 'D'",
        "apply_as_truncates": None,
        "columns": [],
        "except_columns": [],
        "ignore_null_updates": None,
        "track_history_columns": None,
        "track_history_except_columns": None,
    }
    table = {
        "name": "slv",
        "builder": {"layer": "SILVER", "table_source": {"name": "brz", "cdc": cdc}},
    }
    loaded = _pipeline([_bronze({"name": "e"}), table]).table("slv").builder.table_source
    assert loaded is not None and loaded.cdc is not None and loaded.cdc.scd_type == 2
    (error,) = _errors(
        tmp_path,
        """\
  - name: brz
    builder:
      layer: BRONZE
      event_source:
        name: e
        producer:
          name: p
  - name: slv
    builder:
      layer: SILVER
      table_source:
        name: brz
        cdc:
          primary_keys: [symbol]
          sequence_by: created_at
          track_history_columns: [close]
""",
    )
    assert "pl.yaml:20:11: tables[1].builder.table_source.cdc.track_history_columns:" in error
    assert "needs scd_type 2" in error  # history is kept by SCD type 2 only


def test_column_names_of_laktory_dumps_load_when_they_name_the_columns_home(
    tmp_path: Path,
) -> None:
    column = {
        "name": "symbol",
        "catalog_name": "dev",
        "schema_name": "markets",
        "table_name": "slv",
        "sql_expression": "data.symbol",
    }
    slv = {"name": "slv", "builder": {"layer": "SILVER", "table_source": {"name": "brz"}}}
    pipeline = _pipeline([_bronze({"name": "e"}), {**slv, "columns": [column]}])
    assert pipeline.table("slv").columns[0].table_name == "slv"
    (error,) = _errors(
        tmp_path,
        """\
  - name: brz
    builder:
      layer: BRONZE
      event_source:
        name: e
        producer:
          name: p
  - name: slv
    builder:
      layer: SILVER
      table_source:
        name: brz
    columns:
      - name: symbol
        table_name: slv_other
        sql_expression: data.symbol
""",
    )
    assert "pl.yaml:19:21: tables[1].columns[0].table_name: table_name 'slv_other'" in error


def test_join_left_and_window_descending_false_did_nothing_and_are_refused(
    tmp_path: Path,
) -> None:
    errors = _errors(
        tmp_path,
        """\
  - name: slv
    builder:
      layer: SILVER
      table_source:
        name: ext.db.prices
        read_as_stream: false
      joins:
        - left:
            name: ext.db.prices
          other:
            name: ext.db.names
            read_as_stream: false
          on: [symbol]
      window_filter:
        partition_by: [symbol]
        order_by:
          - sql_expression: created_at
            desc: true
        descending: false
""",
    )
    assert len(errors) == 2
    assert ": tables[0].builder.joins[0].left: the left side of a join is the rows" in errors[0]
    assert ": tables[0].builder.window_filter.descending: descending: false changes" in errors[1]


def test_allow_duplicate_names_reaches_the_databricks_pipeline() -> None:
    from laktory_pulumi.deploy.pipeline_args import pipeline_resource_args

    pipeline = _pipeline([_bronze({"name": "e"})], allow_duplicate_names=True)
    arguments = pipeline_resource_args(pipeline, "/.laktory/", lambda path: path)
    assert arguments["allow_duplicate_names"] is True


# Spark: what the fields read ---------------------------------------------------------------


def _read(spark: SparkSession, tmp_path: Path, event_source: dict[str, Any]) -> Any:
    from laktory_pulumi.runtime import read_source

    table = _pipeline(
        [
            _bronze(
                {
                    "name": "e",
                    "events_root": str(tmp_path / "events"),
                    "read_as_stream": False,
                    **event_source,
                }
            )
        ]
    ).tables[0]
    return read_source(table, spark).drop("_source_file", "_rescued_data")


def _land(tmp_path: Path, name: str, text: str) -> None:
    folder = tmp_path / "events" / "p" / "e"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


@pytest.mark.spark
def test_a_csv_folder_with_and_without_header(spark: SparkSession, tmp_path: Path) -> None:
    _land(tmp_path / "with", "prices.csv", "symbol,close\nAAPL,190.5\nMSFT,370.1\n")
    frame = _read(spark, tmp_path / "with", {"fmt": "CSV"})  # header: true by default
    assert frame.columns == ["symbol", "close"]
    assert sorted(tuple(row) for row in frame.collect()) == [("AAPL", "190.5"), ("MSFT", "370.1")]

    _land(tmp_path / "without", "prices.csv", "AAPL,190.5\nMSFT,370.1\n")
    frame = _read(spark, tmp_path / "without", {"fmt": "CSV", "header": False})
    assert frame.columns == ["_c0", "_c1"]
    assert frame.count() == 2


@pytest.mark.spark
def test_multiline_json_records(spark: SparkSession, tmp_path: Path) -> None:
    records = [{"symbol": "AAPL", "close": 190.5}, {"symbol": "MSFT", "close": 370.1}]
    _land(tmp_path, "prices.json", json.dumps(records, indent=2))
    frame = _read(spark, tmp_path, {"fmt": "JSON", "multiline": True})
    assert sorted((row.symbol, row.close) for row in frame.collect()) == [
        ("AAPL", 190.5),
        ("MSFT", 370.1),
    ]


@pytest.mark.spark
def test_from_pipeline_false_reads_the_catalog_table(spark: SparkSession) -> None:
    from laktory_pulumi.runtime.readers import read_table_source

    names = spark.createDataFrame(
        [("AAPL", "Apple"), ("MSFT", "Microsoft")], "symbol string, name string"
    )
    names.createOrReplaceGlobalTempView("laktory_fields_names")
    source = (
        _pipeline(
            [
                _bronze({"name": "e"}),
                {
                    "name": "slv_names",
                    "builder": {
                        "layer": "SILVER",
                        "table_source": {
                            "name": "laktory_fields_names",
                            "schema_name": "global_temp",
                            "from_pipeline": False,
                            "read_as_stream": False,
                            "filter": "symbol = 'MSFT'",
                            "selects": {"name": "company"},
                        },
                    },
                },
            ]
        )
        .table("slv_names")
        .builder.table_source
    )
    assert source is not None
    # No dlt.read here: with from_pipeline true this would ask the pipeline for the table.
    frame = read_table_source(source, spark)
    assert [tuple(row) for row in frame.collect()] == [("Microsoft",)]
    spark.catalog.dropGlobalTempView("laktory_fields_names")


@pytest.mark.spark
def test_any_type_keeps_the_value_type_and_string_is_the_default(spark: SparkSession) -> None:
    from laktory_pulumi.runtime.builders import process

    table = _pipeline(
        [
            _bronze({"name": "e"}),
            {
                "name": "slv",
                "builder": {"layer": "SILVER", "table_source": {"name": "brz"}},
                "columns": [
                    {
                        "name": "open",
                        "type": "_any",
                        "spark_func_name": "coalesce",
                        "spark_func_args": [{"value": "data.open", "is_column": True}],
                    },
                    {"name": "open_text", "sql_expression": "data.open"},
                ],
            },
        ]
    ).table("slv")
    source = spark.createDataFrame(
        [((1.5,), None, "f.json")],
        "data struct<open: double>, _bronze_at timestamp, _source_file string",
    )
    built = process(table, source)
    types = dict(built.dtypes)
    assert (types["open"], types["open_text"]) == ("double", "string")
    assert [(row.open, row.open_text) for row in built.collect()] == [(1.5, "1.5")]


def test_any_type_is_refused_on_static_data(tmp_path: Path) -> None:
    (error,) = _errors(
        tmp_path,
        """\
  - name: slv_names
    builder:
      layer: SILVER
    columns:
      - name: symbol
        type: _any
    data:
      - [AAPL]
""",
    )
    assert "tables[0].data: column 'symbol' has type _any" in error
