"""Laktory v0.0.22's meaning of a `{value: X}` function argument, where it can have it.

Laktory passed every `{value: X}` without `to_lit` through `F.expr` (laktory/models/sql/column.py
at tag v0.0.22), so X could be a column expression such as `open * 2`. Here `{value: X}` is a
plain Python value, which parameters that are not columns need (`concat_ws`'s `sep`,
`date_format`'s `format`, where `F.expr` fails, so no Laktory file relied on it there). Both
meanings hold by reading the function's own signature: a text given to a parameter annotated
`ColumnOrName` (pyspark's "a Column or a column's name") is Laktory's, a SQL expression
(`F.expr`; a plain column name gives the same column either way); any other parameter gets the
value as is.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_COLUMN_OR_NAME = "ColumnOrName"


def with_laktory_values(
    function: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """`args` and `kwargs` with each text `{value: X}` for a column parameter as `{sql: X}`."""
    try:
        bound = inspect.signature(function).bind_partial(*args, **kwargs)
    except (TypeError, ValueError):  # no signature, or arguments it refuses: Spark will say
        return list(args), dict(kwargs)
    parameters = inspect.signature(function).parameters
    converted: dict[str, Any] = {}
    for name, given in bound.arguments.items():
        parameter = parameters[name]
        takes_columns = _COLUMN_OR_NAME in str(parameter.annotation)
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            converted[name] = tuple(_meant(arg, takes_columns) for arg in given)
        elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
            converted[name] = {key: _meant(arg, takes_columns) for key, arg in given.items()}
        else:
            converted[name] = _meant(given, takes_columns)
    bound.arguments.update(converted)
    return list(bound.args), dict(bound.kwargs)


def _meant(arg: Any, takes_columns: bool) -> Any:
    # Imported here, as in `builders._argument`: the runtime loads the models late.
    from ..models.column import SqlArg, ValueArg

    if takes_columns and isinstance(arg, ValueArg) and isinstance(arg.value, str):
        return SqlArg(sql=arg.value)
    return arg
