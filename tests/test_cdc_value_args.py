"""`{value: X}` function arguments: Laktory v0.0.22's `F.expr(X)` for a column parameter, a plain
value for any other (`runtime/value_args.py`)."""

from __future__ import annotations

from typing import Any

import pytest

from laktory_pulumi.models import ColumnExpression, SqlArg, ValueArg
from laktory_pulumi.runtime.builders import expression
from laktory_pulumi.runtime.value_args import with_laktory_values

pytestmark = pytest.mark.spark


def _values(spark: Any, **column: Any) -> list[Any]:
    frame = spark.sql("SELECT * FROM VALUES (1.5D, 'a'), (2.0D, 'b') AS t(open, symbol)")
    built = expression(ColumnExpression.model_validate(column))
    return sorted(row[0] for row in frame.select(built).collect())


def test_value_of_a_column_parameter_is_a_sql_expression_as_in_laktory(spark: Any) -> None:
    # coalesce(*cols: ColumnOrName): Laktory read `open * 2` as an expression; passed as is it
    # would name a column `open * 2`, which does not exist.
    doubled = {"spark_func_name": "coalesce", "spark_func_args": [{"value": "open * 2"}]}
    assert _values(spark, **doubled) == [3.0, 4.0]
    # A plain name gives the same column either way.
    named = {"spark_func_name": "upper", "spark_func_kwargs": {"col": {"value": "symbol"}}}
    assert _values(spark, **named) == ["A", "B"]


def test_value_of_another_parameter_is_passed_as_is(spark: Any) -> None:
    # concat_ws(sep: str, *cols): the separator is a Python string (F.expr('-') would fail).
    joined = {
        "spark_func_name": "concat_ws",
        "spark_func_args": [{"value": "-"}, "symbol", "symbol"],
    }
    assert _values(spark, **joined) == ["a-a", "b-b"]
    # round(col, scale: Column | int): a number stays a number.
    rounded = {"spark_func_name": "round", "spark_func_args": ["open", {"value": 0}]}
    assert _values(spark, **rounded) == [2.0, 2.0]


def test_arguments_are_matched_to_parameters_by_position_and_name() -> None:
    from pyspark.sql import functions as F

    args, kwargs = with_laktory_values(
        F.date_format, [ValueArg(value="ts + INTERVAL 1 DAY")], {"format": ValueArg(value="yyyy")}
    )
    # (The binding passes `format` by position: the same call.)
    assert (args, kwargs) == ([SqlArg(sql="ts + INTERVAL 1 DAY"), ValueArg(value="yyyy")], {})
