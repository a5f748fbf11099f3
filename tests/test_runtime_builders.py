"""Table builders, expectations and the `dlt` shim on small frames (issue: runtime)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import process, read_source

pytestmark = pytest.mark.spark


def _pipeline(**silver: Any) -> Pipeline:
    """bronze (events) -> silver (`silver` fields added) -> no gold."""
    return Pipeline.model_validate(
        {
            "name": "pl-test",
            "tables": [
                {
                    "name": "brz_prices",
                    "builder": {
                        "layer": "BRONZE",
                        "event_source": {"name": "price", "producer": {"name": "p"}},
                    },
                },
                {
                    "name": "slv_prices",
                    "builder": {"layer": "SILVER", "table_source": {"name": "brz_prices"}},
                    **silver,
                },
            ],
        }
    )


@pytest.fixture
def bronze(spark: Any) -> Any:
    """Bronze rows as the bronze template writes them: a `data` struct, `_bronze_at`, and the
    reader's `_rescued_data` and `_source_file`."""
    return spark.sql(
        """
        SELECT named_struct('symbol', symbol, 'open', open, 'close', close) AS data,
               'price' AS name, current_timestamp() AS _bronze_at,
               CAST(NULL AS STRING) AS _rescued_data, 'prices.json' AS _source_file
        FROM VALUES ('AAPL', 1.0D, 2.0D), ('MSFT', -1.0D, 3.0D), (NULL, 4.0D, 5.0D),
                    ('AAPL', 1.0D, 2.0D) AS t(symbol, open, close)
        """
    )


@pytest.fixture
def eager() -> Iterator[Any]:
    from laktory_pulumi.runtime import dlt

    backend = dlt.use_backend("eager")
    yield backend
    dlt.use_backend(None)


COLUMNS = [
    {"name": "symbol", "type": "string", "spark_func_name": "coalesce", "spark_func_args": ["data.symbol"]},
    {"name": "open", "type": "double", "spark_func_name": "coalesce", "spark_func_args": ["data.open"]},
    {"name": "close", "type": "decimal(10,2)", "sql_expression": "data.close"},
]  # fmt: skip


def test_columns_are_built_typed_with_system_columns_in_one_projection(bronze: Any) -> None:
    at = {"name": "at", "type": "timestamp", "sql_expression": "_bronze_at"}
    table = _pipeline(columns=[*COLUMNS, at], timestamp_key="at").table("slv_prices")
    silver = process(table, bronze)
    assert silver.columns == [
        *("symbol", "open", "close", "at"),
        *("_rescued_data", "_bronze_at", "_source_file", "_tstamp", "_silver_at"),
    ]
    assert dict(silver.dtypes)["close"] == "decimal(10,2)"

    # One projection over the source: no chain of Project nodes, one per column.
    def projections(frame: Any) -> int:
        return frame._jdf.queryExecution().logical().toString().count("Project")

    assert projections(silver) == projections(bronze) + 1
    first = silver.where("symbol = 'AAPL'").first()
    assert (first.symbol, first.open, first.close) == ("AAPL", 1.0, Decimal("2.00"))


def test_function_arguments_literals_values_and_sql(bronze: Any) -> None:
    columns = [
        {"name": "label", "type": "string", "spark_func_name": "concat_ws",
         "spark_func_args": [{"value": "-"}, "data.symbol", {"lit": "x"}]},
        {"name": "spread", "type": "double", "spark_func_name": "round",
         "spark_func_args": [{"sql": "data.close - data.open"}], "spark_func_kwargs": {"scale": {"value": 0}}},
    ]  # fmt: skip
    table = _pipeline(columns=columns).table("slv_prices")
    rows = {tuple(row)[:2] for row in process(table, bronze).collect()}
    assert rows == {("AAPL-x", 1.0), ("MSFT-x", 4.0), ("x", 1.0)}


def test_filter_drop_duplicates_and_renaming_selects(bronze: Any) -> None:
    table = _pipeline(
        columns=COLUMNS,
        primary_key=["symbol", "open"],
        builder={
            "layer": "SILVER",
            "table_source": {"name": "brz_prices"},
            "drop_duplicates": True,
            "filter": "symbol IS NOT NULL",
            "selects": {"symbol": "ticker", "open": "open_price"},
        },
    ).table("slv_prices")
    silver = process(table, bronze)
    assert silver.columns == [
        *("ticker", "open_price"),
        *("_rescued_data", "_bronze_at", "_source_file", "_silver_at"),
    ]
    assert sorted((row.ticker, row.open_price) for row in silver.collect()) == [
        ("AAPL", 1.0),
        ("MSFT", -1.0),
    ]


def test_a_misspelt_input_names_table_column_input_and_existing_columns(bronze: Any) -> None:
    from laktory_pulumi.runtime.builders import ColumnInputError

    columns = [*COLUMNS[:1], {**COLUMNS[1], "spark_func_args": ["data.opne"]}]
    table = _pipeline(columns=columns).table("slv_prices")
    with pytest.raises(ColumnInputError) as raised:
        process(table, bronze)
    message = str(raised.value)
    assert message.startswith("table slv_prices: column 'open' reads 'data.opne'")
    assert "existing columns: data, data.symbol, data.open, data.close, name, _bronze_at" in message

    in_sql = [{"name": "ratio", "type": "double", "sql_expression": "data.close / data.opn"}]
    with pytest.raises(ColumnInputError) as raised:
        process(_pipeline(columns=in_sql).table("slv_prices"), bronze)
    assert raised.value.column == "ratio" and raised.value.missing == "data.opn"


def test_expectation_actions_on_rows_that_break_them(bronze: Any, eager: Any) -> None:
    from laktory_pulumi.runtime import dlt
    from laktory_pulumi.runtime.expectations import FAILED_EXPECTATIONS_COLUMN, quarantine, rules_of

    expectations = [
        {"name": "known_symbol", "expression": "symbol IS NOT NULL", "action": "DROP"},
        {"name": "positive_open", "expression": "open > 0", "action": "WARN"},
    ]
    table = _pipeline(columns=COLUMNS, expectations=expectations).table("slv_prices")

    @dlt.table(name=table.name)
    @dlt.expectations(table)
    def silver() -> Any:
        return process(table, bronze)

    kept = dlt.get_df(silver)
    # DROP removes the row whose symbol is NULL; WARN keeps MSFT's negative open.
    assert sorted(row.symbol for row in kept.collect()) == ["AAPL", "AAPL", "MSFT"]
    quarantined = quarantine(process(table, bronze), rules_of(table))
    assert [row[FAILED_EXPECTATIONS_COLUMN] for row in quarantined.collect()] == [["known_symbol"]]

    @dlt.table(name="strict")
    @dlt.expect_or_fail("positive_open", "open > 0")
    def strict() -> Any:
        return process(table, bronze)

    with pytest.raises(
        Exception, match=r"expectation positive_open \(open > 0\) failed on table strict"
    ):
        dlt.get_df(strict).collect()

    @dlt.table(name="lenient")
    @dlt.expect_all_or_fail({"has_close": "close IS NOT NULL"})
    def lenient() -> Any:
        return process(table, bronze)

    assert dlt.get_df(lenient).count() == 4


def test_debug_reads_find_tables_defined_earlier(bronze: Any, eager: Any) -> None:
    from laktory_pulumi.runtime import dlt

    table = _pipeline(columns=COLUMNS).table("slv_prices")

    @dlt.table(name="brz_prices")
    def brz() -> Any:
        return bronze

    silver = process(table, read_source(table, bronze.sparkSession))
    assert silver.count() == 4
    assert dlt.get_df("brz_prices") is dlt.get_df(brz)
    with pytest.raises(KeyError, match="no dataset 'nope'"):
        dlt.get_df("nope")


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from laktory_pulumi.runtime import dlt

    try:
        monkeypatch.setenv("LAKTORY_DLT_BACKEND", "sdp")
        assert dlt.use_backend(None) is None and dlt.backend_name() == "sdp"
        assert not dlt.is_debug()
        monkeypatch.delenv("LAKTORY_DLT_BACKEND")
        dlt.use_backend(None)
        assert dlt.backend_name() == "eager" and dlt.is_debug()
        with pytest.raises(ValueError, match="expected one of databricks, sdp, eager"):
            dlt.use_backend("dbx")
    finally:
        dlt.use_backend(None)


def test_logger_level_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from laktory_pulumi import get_logger

    monkeypatch.setenv("LAKTORY_LOG_LEVEL", "debug")
    assert get_logger("laktory.bronze").getEffectiveLevel() == logging.DEBUG
    monkeypatch.setenv("LAKTORY_LOG_LEVEL", "WARNING")
    assert get_logger("x").getEffectiveLevel() == logging.WARNING
    monkeypatch.setenv("LAKTORY_LOG_LEVEL", "loud")
    with pytest.raises(ValueError, match="LAKTORY_LOG_LEVEL='LOUD' is not a logging level"):
        get_logger("x")


def test_read_metadata_of_a_missing_pipeline_names_the_path_and_what_exists(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from laktory_pulumi.metadata import metadata_bytes, read_metadata

    folder = tmp_path / ".laktory" / "pipelines"
    folder.mkdir(parents=True)
    pipeline = _pipeline()
    (folder / "pl-test.json").write_bytes(metadata_bytes(pipeline))
    monkeypatch.setenv("LAKTORY_WORKSPACE_ROOT", str(tmp_path))
    monkeypatch.delenv("LAKTORY_ROOT", raising=False)

    assert read_metadata("pl-test") == pipeline
    with pytest.raises(FileNotFoundError) as raised:
        read_metadata("pl-other")
    assert str(raised.value) == (
        f"no metadata for pipeline 'pl-other' at {folder / 'pl-other.json'}; "
        "pipelines there: pl-test"
    )
    monkeypatch.delenv("LAKTORY_WORKSPACE_ROOT")
    with pytest.raises(FileNotFoundError, match="set LAKTORY_WORKSPACE_ROOT"):
        read_metadata("pl-test")


def test_debug_apply_changes_keeps_the_latest_version_of_each_key(spark: Any, eager: Any) -> None:
    from laktory_pulumi.runtime import dlt

    @dlt.view(name="changes")
    def changes() -> Any:
        return spark.sql(
            "SELECT * FROM VALUES (1, 'a1', 'U', 1), (1, 'a2', 'U', 2), (2, 'b1', 'U', 1), "
            "(2, NULL, 'D', 2) AS t(id, name, op, seq)"
        )

    dlt.create_streaming_table(name="customers")
    latest = dlt.apply_changes(
        target="customers",
        source="changes",
        keys=["id"],
        sequence_by="seq",
        apply_as_deletes="op = 'D'",
        except_column_list=["op"],
        track_history_except_column_list=["seq"],  # a change of seq alone opens no version
    )
    assert [tuple(row) for row in dlt.get_df(latest).collect()] == [(1, "a2", 2)]


def test_read_metadata_finds_its_pipeline_and_root_in_the_pipeline_configuration(
    spark: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from laktory_pulumi.metadata import metadata_bytes, read_metadata

    # A non-default root, as a stack's `laktory_root` deploys it: only the configuration says so.
    folder = tmp_path / "team" / "laktory" / "pipelines"
    folder.mkdir(parents=True)
    pipeline = _pipeline()
    (folder / "pl-test.json").write_bytes(metadata_bytes(pipeline))
    monkeypatch.setenv("LAKTORY_WORKSPACE_ROOT", str(tmp_path))
    monkeypatch.delenv("LAKTORY_ROOT", raising=False)
    spark.conf.set("pipeline_name", "pl-test")
    spark.conf.set("laktory_root", "/team/laktory/")
    try:
        assert read_metadata(spark=spark) == pipeline
        assert read_metadata() == pipeline  # the active session's configuration
    finally:
        spark.conf.unset("pipeline_name")
        spark.conf.unset("laktory_root")
    with pytest.raises(ValueError, match="no pipeline named"):
        read_metadata(spark=spark)


def test_column_and_aggregate_comments_and_units_reach_the_schema(bronze: Any) -> None:
    pipeline = _pipeline(
        columns=[
            {"name": "symbol", "sql_expression": "data.symbol", "comment": "Ticker symbol."},
            {"name": "open", "type": "double", "sql_expression": "data.open", "unit": "USD"},
            {"name": "close", "type": "double", "sql_expression": "data.close"},
        ]
    )
    silver = process(pipeline.table("slv_prices"), bronze)
    assert silver.schema["symbol"].metadata == {"comment": "Ticker symbol."}
    assert silver.schema["open"].metadata == {"unit": "USD"}
    assert silver.schema["close"].metadata == {}

    gold = Pipeline.model_validate(
        {
            "name": "pl-gold",
            "tables": [
                {
                    "name": "gld_prices",
                    "builder": {
                        "layer": "GOLD",
                        "table_source": {"name": "slv_prices"},
                        "aggregation": {
                            "groupby_columns": ["symbol"],
                            "agg_expressions": [
                                {
                                    "name": "top",
                                    "sql_expression": "max(open)",
                                    "comment": "Highest open.",
                                }
                            ],
                        },
                    },
                },
                {
                    "name": "slv_prices",
                    "builder": {"layer": "SILVER", "table_source": {"name": "brz"}},
                },
                {
                    "name": "brz",
                    "builder": {
                        "layer": "BRONZE",
                        "event_source": {"name": "e", "producer": {"name": "p"}},
                    },
                },
            ],
        }
    ).table("gld_prices")
    aggregated = process(gold, silver)
    assert aggregated.schema["top"].metadata == {"comment": "Highest open."}
