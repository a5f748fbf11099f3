"""Rules on the functions a pipeline calls: every `spark_func_name` is a function of
`pyspark.sql.functions` in the Spark of the pipeline's DLT channel (a name added later fails
on Databricks with AttributeError) or one of the pipeline's `udfs`, and every UDF and transform
module and function exists in the project (found with `ast`, never imported)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from .spark_function_names import (
    CHANNEL_RUNTIMES,
    CHANNEL_SPARK_VERSIONS,
    channel_functions,
    first_version_with,
)
from .udf import FunctionRef, missing_function, modules_root

if TYPE_CHECKING:
    from .pipeline import Pipeline

Path = tuple[str | int, ...]


def functions_exist(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Every `spark_func_name` is a Spark function or a UDF; every module and function exists.

    Module files are checked only when the loader says where the project's modules live
    (see `models.udf`); names are always checked.
    """
    problems: list[tuple[Path, str]] = []
    root = modules_root()
    refs: list[tuple[Path, FunctionRef]] = [
        (("udfs", index), udf) for index, udf in enumerate(pipeline.udfs)
    ]
    refs += [
        (("tables", index, "transform"), table.transform)
        for index, table in enumerate(pipeline.tables)
        if table.transform is not None
    ]
    for path, ref in refs:
        if root is None or getattr(ref, "module_path", None) is not None:
            continue
        missing = missing_function(ref, root)
        if missing is not None:
            problems.append(((*path, missing[0]), missing[1]))
    udf_names = {udf.function_name for udf in pipeline.udfs}
    functions = channel_functions(pipeline.channel)
    first: dict[str, int] = {}
    for index, udf in enumerate(pipeline.udfs):
        if udf.function_name in first:
            problems.append(
                (
                    ("udfs", index, "function_name"),
                    f"a column calls a UDF by its function name, and '{udf.function_name}' "
                    f"is also udfs[{first[udf.function_name]}]",
                )
            )
        first.setdefault(udf.function_name, index)
    for index, table in enumerate(pipeline.tables):
        calls: list[tuple[Path, str | None]] = [
            (("tables", index, "columns", position), column.spark_func_name)
            for position, column in enumerate(table.columns)
        ]
        aggregation = table.builder.aggregation
        if aggregation is not None:
            calls += [
                (
                    ("tables", index, "builder", "aggregation", "aggregates", position),
                    agg.spark_func_name,
                )
                for position, agg in enumerate(aggregation.aggregates)
            ]
        for path, name in calls:
            if name is None or name in udf_names or name in functions:
                continue
            problems.append(((*path, "spark_func_name"), _unknown_function(pipeline, name)))
    return problems


def _unknown_function(pipeline: Pipeline, name: str) -> str:
    """Why `name` cannot be called: a later Spark's function, or no function at all."""
    channel = pipeline.channel
    version = CHANNEL_SPARK_VERSIONS[channel]
    later = first_version_with(name)
    if later is not None:
        preview = CHANNEL_SPARK_VERSIONS["PREVIEW"]
        newer = channel != "PREVIEW" and name in channel_functions("PREVIEW")
        alternative = f"channel: PREVIEW (Spark {preview}), " if newer else ""
        return (
            f"'{name}' is a function of Spark {later}, but channel {channel} runs Databricks "
            f"Runtime {CHANNEL_RUNTIMES[channel]} (Spark {version}), where calling it fails "
            f"with AttributeError; use {alternative}another function, or a UDF"
        )
    known = channel_functions(channel) | {udf.function_name for udf in pipeline.udfs}
    close = difflib.get_close_matches(name, sorted(known), n=3)
    hint = f"; close names: {', '.join(close)}" if close else ""
    return (
        f"'{name}' is neither a function of pyspark.sql.functions nor one of the pipeline's "
        f"udfs{hint}"
    )
