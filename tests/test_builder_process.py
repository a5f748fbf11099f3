"""`process` with joins, window filters, drop_columns, silver-star and static data, on small
frames in the session's Spark; every expected table computed again with plain PySpark
(issue #11)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import process
from laktory_pulumi.runtime.static import static_rows
from laktory_pulumi.runtime.tables import define_table, tables_of

pytestmark = pytest.mark.spark

PRICES = """
    SELECT * FROM VALUES
      ('AAPL', timestamp'2023-11-01 00:00:00', 1.0D, 2.0D),
      ('AAPL', timestamp'2023-11-01 01:00:00', 3.0D, 4.0D),
      ('GOOGL', timestamp'2023-11-01 00:00:00', 3.0D, 4.0D),
      ('GOOGL', timestamp'2023-11-01 01:00:00', 5.0D, 6.0D),
      ('MSFT', timestamp'2023-11-02 00:00:00', 7.0D, 8.0D)
    AS t(symbol, created_at, open, close)
"""
# Two rows for AAPL: a join must not add rows to the left (Laktory drops duplicates on `on`).
METADATA = [["AAPL", "USD", "Apple"], ["AAPL", "USD", "Apple"], ["GOOGL", "USD", "Google"]]


def pipeline(*tables: dict[str, Any]) -> Pipeline:
    """slv_prices (a stand-in read in debug mode) and meta (static rows), then `tables`."""
    return Pipeline.model_validate(
        {
            "name": "pl-test",
            "tables": [
                {
                    "name": "slv_prices",
                    "builder": {
                        "layer": "SILVER",
                        "table_source": {"name": "dev.raw.prices", "read_as_stream": False},
                    },
                    "columns": [{"name": "symbol", "sql_expression": "symbol"}],
                },
                {
                    "name": "meta",
                    "builder": {"layer": "SILVER"},
                    "columns": [
                        {"name": "ticker"},
                        {"name": "currency"},
                        {"name": "company"},
                    ],
                    "data": METADATA,
                },
                *tables,
            ],
        }
    )


@pytest.fixture
def eager(spark: Any) -> Iterator[Any]:
    """The debug backend with `slv_prices` and `meta` defined, as earlier notebooks would."""
    from laktory_pulumi.runtime import dlt

    backend = dlt.use_backend("eager")
    dlt.spark = spark
    backend.frames["slv_prices"] = spark.sql(PRICES)
    yield backend
    dlt.use_backend(None)
    dlt.spark = None


def define_meta(eager: Any, spark: Any, pl: Pipeline) -> Any:
    define_table(pl.table("meta"), spark)
    return eager.frames["meta"]


JOIN = {
    "other": {
        "name": "meta",
        "read_as_stream": False,
        "selects": {"ticker": "symbol", "currency": "currency", "company": "company"},
    },
    "on": ["symbol"],
}


def star(**builder: Any) -> dict[str, Any]:
    return {
        "name": "star",
        "builder": {
            "layer": "SILVER_STAR",
            "table_source": {"name": "slv_prices", "read_as_stream": False},
            **builder,
        },
    }


def test_static_rows_are_typed_by_their_columns(spark: Any) -> None:
    pl = Pipeline.model_validate(
        {
            "name": "pl-test",
            "tables": [
                {
                    "name": "t",
                    "builder": {"layer": "SILVER"},
                    "columns": [{"name": "a"}, {"name": "n", "type": "int"}],
                    "data": [["x", 1], ["y", None]],
                }
            ],
        }
    )
    frame = static_rows(pl.table("t"), spark)
    assert frame.dtypes == [("a", "string"), ("n", "int")]
    assert [tuple(row) for row in frame.collect()] == [("x", 1), ("y", None)]


def test_a_silver_star_left_join_equals_plain_pyspark(spark: Any, eager: Any) -> None:
    pl = pipeline(star(joins=[JOIN]))
    meta = define_meta(eager, spark, pl)
    result = process(pl.table("star"), spark.sql(PRICES))

    prices = spark.sql(PRICES)
    other = meta.withColumnRenamed("ticker", "symbol").dropDuplicates(["symbol"])
    expected = prices.join(other, on="symbol", how="left").select(
        "symbol", "created_at", "open", "close", "currency", "company"
    )
    # Source columns kept (silver-star's default), the other side's key dropped, a stamp added.
    assert result.columns == [*prices.columns, "currency", "company", "_silver_star_at"]
    assert sorted(map(tuple, result.drop("_silver_star_at").collect())) == sorted(
        map(tuple, expected.select(*prices.columns, "currency", "company").collect())
    )


def test_an_on_expression_join_keeps_both_sides(spark: Any, eager: Any) -> None:
    join = {
        "other": {"name": "meta", "read_as_stream": False, "filter": "company <> 'Google'"},
        "on_expression": "left.symbol = other.ticker",
        "how": "inner",
    }
    pl = pipeline(star(joins=[join], drop_columns=["company"]))
    define_meta(eager, spark, pl)
    result = process(pl.table("star"), spark.sql(PRICES))
    assert result.columns == [
        "symbol",
        "created_at",
        "open",
        "close",
        "ticker",
        "currency",
        # No `_silver_at`: the other side's system columns are dropped (docs/joins.md,
        # "Columns of a joined row"), and the left side (PRICES) has none of its own.
        "_silver_star_at",
    ]
    # No dedup without `on`: both AAPL metadata rows match each AAPL price.
    assert sorted(row.symbol for row in result.collect()) == ["AAPL"] * 4


def test_a_declared_column_used_as_join_key_is_built_before_the_join(
    spark: Any, eager: Any
) -> None:
    join = {"other": {"name": "meta", "read_as_stream": False}, "on": ["ticker"]}
    table = star(joins=[join])
    table["columns"] = [
        {"name": "ticker", "spark_func_name": "coalesce", "spark_func_args": ["symbol"]}
    ]
    pl = pipeline(table)
    define_meta(eager, spark, pl)
    rows = process(pl.table("star"), spark.sql(PRICES)).select("ticker", "company").collect()
    assert sorted((row.ticker, row.company) for row in rows) == [
        ("AAPL", "Apple"),
        ("AAPL", "Apple"),
        ("GOOGL", "Google"),
        ("GOOGL", "Google"),
        ("MSFT", None),
    ]


def test_a_window_filter_keeps_the_latest_rows_of_each_group(spark: Any, eager: Any) -> None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window_filter = {
        "partition_by": ["symbol"],
        "order_by": [{"sql_expression": "created_at", "desc": True}],
        "rows_to_keep": 1,
    }
    pl = pipeline(
        {
            "name": "latest",
            "builder": {
                "layer": "GOLD",
                "table_source": {"name": "slv_prices", "read_as_stream": False},
                "window_filter": window_filter,
                "selects": {"symbol": "symbol", "close": "last_close"},
            },
            "columns": [
                {"name": "symbol", "sql_expression": "symbol"},
                {"name": "created_at", "type": "timestamp", "sql_expression": "created_at"},
                {"name": "close", "type": "double", "sql_expression": "close"},
            ],
        }
    )
    result = process(pl.table("latest"), spark.sql(PRICES))
    # A value failing its cast is rescued, never fatal: typed tables carry `_rescued_data`.
    assert result.columns == ["symbol", "last_close", "_rescued_data", "_gold_at"]

    ranked = spark.sql(PRICES).withColumn(
        "n", F.row_number().over(Window.partitionBy("symbol").orderBy(F.desc("created_at")))
    )
    expected = ranked.where("n = 1").select("symbol", "close")
    assert sorted(map(tuple, result.drop("_gold_at", "_rescued_data").collect())) == sorted(
        map(tuple, expected.collect())
    )


def test_aggregation_then_a_post_aggregation_join_equal_plain_pyspark(
    spark: Any, eager: Any
) -> None:
    from pyspark.sql import functions as F

    pl = pipeline(
        {
            "name": "gld",
            "builder": {
                "layer": "GOLD",
                "template": "dlt_gld_template",
                "table_source": {"name": "slv_prices", "read_as_stream": False},
                "aggregation": {
                    "groupby_columns": ["symbol"],
                    "groupby_window": {"time_column": "created_at", "window_duration": "1 day"},
                    "agg_expressions": [
                        {"name": "max_close", "sql_expression": "max(close)"},
                        {"name": "rows", "spark_func_name": "count", "spark_func_args": ["open"]},
                    ],
                },
                "joins_post_aggregation": [JOIN],
                "drop_columns": ["rows"],
            },
            "columns": [{"name": "day", "type": "date", "sql_expression": "to_date(window_start)"}],
        }
    )
    define_meta(eager, spark, pl)
    (gold,) = tables_of(pl, "dlt_gld_template")
    define_table(gold, spark)
    result = eager.frames["gld"]
    assert result.columns == [
        "symbol",
        "window_start",
        "window_end",
        "max_close",
        "currency",
        "company",
        "day",
        "_rescued_data",
        "_gold_at",
    ]

    other = eager.frames["meta"].withColumnRenamed("ticker", "symbol").dropDuplicates(["symbol"])
    expected = (
        spark.sql(PRICES)
        .groupBy("symbol", F.window("created_at", "1 day"))
        .agg(F.max("close").alias("max_close"))
        .join(other, on="symbol", how="left")
        .select("symbol", F.to_date("window.start").alias("day"), "max_close", "company")
    )
    assert sorted(map(tuple, result.select("symbol", "day", "max_close", "company").collect())) == (
        sorted(map(tuple, expected.collect()))
    )
