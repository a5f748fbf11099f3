"""A `{value: X}` argument that is no column, given where the function takes a column.

`{value: X}` is a plain Python value. A text X given to a parameter pyspark annotates
`ColumnOrName` is read as a SQL expression (Laktory v0.0.22's `F.expr`, `runtime/value_args.py`),
but any other X there (`{value: 0.5}` to `coalesce`) is neither a column nor a name: pyspark
refuses it when the table is defined ("Argument `col` should be Column or str"), and Laktory's
`F.expr(0.5)` failed too (docs/laktory.md). Found from the function's signature, without Spark.

pyspark is imported only when a pipeline has such an argument, so validation of any other
pipeline never loads it (a preview-only CI job may not install it).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from .column import ColumnExpression, ValueArg

if TYPE_CHECKING:
    from .pipeline import Pipeline

Path = tuple[str | int, ...]
_COLUMN_OR_NAME = "ColumnOrName"


def value_args_are_columns(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """A problem for each non-text `{value: X}` a Spark function takes as a column."""
    udfs = {udf.function_name for udf in pipeline.udfs}
    problems: list[tuple[Path, str]] = []
    for index, table in enumerate(pipeline.tables):
        calls: list[tuple[Path, ColumnExpression]] = [
            (("tables", index, "columns", position), column)
            for position, column in enumerate(table.columns)
        ]
        aggregation = table.builder.aggregation
        if aggregation is not None:
            calls += [
                (("tables", index, "builder", "aggregation", "aggregates", position), aggregate)
                for position, aggregate in enumerate(aggregation.aggregates)
            ]
        for path, call in calls:
            if call.spark_func_name is None or call.spark_func_name in udfs:
                continue
            if not any(
                map(_plain_non_text, [*call.spark_func_args, *call.spark_func_kwargs.values()])
            ):
                continue
            found = _refused(call)
            if found is not None:
                problems.append(((*path, found[0]), found[1]))
    return problems


def _plain_non_text(arg: Any) -> bool:
    return isinstance(arg, ValueArg) and not isinstance(arg.value, str)


def _refused(call: ColumnExpression) -> tuple[str, str] | None:
    """(field, message) for the first such argument of the call, or None."""
    try:
        from pyspark.sql import functions
    except ImportError:  # pragma: no cover - the runtime's pre-flight finds it instead
        return None
    function = getattr(functions, call.spark_func_name or "", None)
    if function is None:
        return None  # an unknown name has its own finding (`function_rules`)
    try:
        signature = inspect.signature(function)
        bound = signature.bind_partial(*call.spark_func_args, **call.spark_func_kwargs)
    except (TypeError, ValueError):
        return None  # arguments the function refuses: Spark says so when defining the table
    for name, given in bound.arguments.items():
        parameter = signature.parameters[name]
        if _COLUMN_OR_NAME not in str(parameter.annotation):
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            items = list(given.values())
        elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            items = list(given)
        else:
            items = [given]
        for item in items:
            if _plain_non_text(item):
                field = "spark_func_kwargs" if name in call.spark_func_kwargs else "spark_func_args"
                return (
                    field,
                    f"{{value: {item.value!r}}} is given to {call.spark_func_name}'s column "
                    f"parameter '{name}', and a {type(item.value).__name__} is no column (nor "
                    f"was it in Laktory, whose F.expr failed on it): write {{lit: "
                    f"{item.value!r}}} for a constant column",
                )
    return None
