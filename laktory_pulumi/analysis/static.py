"""Checks that need pyspark's function names but no Spark session."""

from __future__ import annotations

import difflib

from ..models import Pipeline

Path = tuple[str | int, ...]


def unknown_functions(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Every `spark_func_name` that `pyspark.sql.functions` lacks, with its field path.

    Empty when pyspark is not installed: the check is then left to the deep analysis.
    """
    try:
        from pyspark.sql import functions
    except ImportError:
        return []
    known = [name for name in dir(functions) if not name.startswith("_")]
    found: list[tuple[Path, str]] = []
    for t, table in enumerate(pipeline.tables):
        named: list[tuple[Path, str | None]] = [
            (("tables", t, "columns", c, "spark_func_name"), column.spark_func_name)
            for c, column in enumerate(table.columns)
        ]
        if table.builder.aggregation is not None:
            named += [
                (
                    ("tables", t, "builder", "aggregation", "aggregates", a, "spark_func_name"),
                    agg.spark_func_name,
                )
                for a, agg in enumerate(table.builder.aggregation.aggregates)
            ]
        for path, name in named:
            if name is None or callable(getattr(functions, name, None)):
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            found.append(
                (
                    path,
                    f"table {table.name}: '{name}' is not a function of pyspark.sql.functions{hint}",
                )
            )
    return found
