"""Rules on the functions a pipeline calls: every `spark_func_name` is a function of
`pyspark.sql.functions` in the Spark of the pipeline's DLT channel (a name added later fails
on Databricks with AttributeError) or one of the pipeline's `udfs`, and every UDF, transform
and foreach_batch handler module and function exists in the project (found with `ast`, never
imported); a handler takes `(df, batch_id)`, read from its `def`."""

from __future__ import annotations

import ast
import difflib
import sys
from pathlib import Path as FilePath
from typing import TYPE_CHECKING

from .spark_function_names import (
    CHANNEL_RUNTIMES,
    CHANNEL_SPARK_VERSIONS,
    channel_functions,
    first_version_with,
)
from .udf import MODULES_FOLDER, FunctionRef, handler_call_problem, missing_function, modules_root

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
    refs += [
        (("sinks", index, "function"), sink.function)
        for index, sink in enumerate(pipeline.sinks)
        if sink.function is not None
    ]
    handlers = {  # called handler(df, batch_id)
        ("sinks", index, "function")
        for index, sink in enumerate(pipeline.sinks)
        if sink.format == "foreach_batch"
    }
    deployed = {ref.module_name for _, ref in refs if getattr(ref, "module_path", None) is None}
    for path, ref in refs:
        if getattr(ref, "module_path", None) is not None:
            continue
        shadowed = _shadowed_module(ref.module_name)
        if shadowed is not None:
            problems.append(((*path, "module_name"), shadowed))
            continue
        if root is None:
            continue
        missing = missing_function(ref, root)
        if missing is not None:
            problems.append(((*path, missing[0]), missing[1]))
            continue
        undeployed = _undeployed_import(ref, root, deployed)
        if undeployed is not None:
            problems.append(((*path, "module_name"), undeployed))
            continue
        if path in handlers:
            uncallable = handler_call_problem(ref, root)
            if uncallable is not None:
                problems.append(((*path, "function_name"), uncallable))
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


RUNTIME_PACKAGES = frozenset({"dlt", "laktory_pulumi", "pyspark", "py4j", "pydantic", "yaml"})
"""Packages the notebooks import: a project module of one of these names would replace it."""


def _shadowed_module(module_name: str) -> str | None:
    """Why a module of this name cannot be imported as the project's, or None.

    The deployed modules' folder goes first on `sys.path` (`runtime/udfs.py`), so `copy.py`
    would replace the standard library's `copy` for everything imported after it (pyspark
    included), and a standard-library module already imported would shadow the project's.
    """
    top = module_name.split(".")[0]
    if top in sys.stdlib_module_names:
        what = "a module of Python's standard library"
    elif top in RUNTIME_PACKAGES:
        what = "a package the pipeline's notebooks import"
    else:
        return None
    return (
        f"module '{module_name}' is named like '{top}', {what}: one would replace the other "
        "when the pipeline imports it; rename the module file"
    )


def _undeployed_import(ref: FunctionRef, root: FilePath, deployed: set[str]) -> str | None:
    """A project module the module imports, which is not deployed with it, or None.

    Only the modules `udfs` and `transform` name are deployed next to the notebooks
    (`Pipeline.project_modules`), so importing another file of `notebooks/` works locally and
    fails on Databricks with ModuleNotFoundError.
    """
    file = root / ref.relative_path
    try:
        tree = ast.parse(file.read_text(), filename=str(file))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None  # `missing_function` reports what it can
    package = ref.module_name.rsplit(".", 1)[0] if "." in ref.module_name else ""
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: a sibling of the module's own package
                base = ".".join(filter(None, [package, node.module or ""]))
                names = (
                    [base]
                    if node.module
                    else [f"{package}.{a.name}".lstrip(".") for a in node.names]
                )
            else:
                names = [node.module or ""]
        for name in names:
            if not name or name in deployed or _shadowed_module(name) is not None:
                continue
            candidate = root / (name.replace(".", "/") + ".py")
            if candidate.is_file():
                shown = f"{MODULES_FOLDER}/{candidate.relative_to(root)}"
                return (
                    f"module '{ref.module_name}' imports '{name}' ({shown}), which is not "
                    "deployed (only the modules named by udfs, transforms and sink functions are), so "
                    "the import "
                    f"fails on Databricks; move its code into '{ref.module_name}'"
                )
    return None


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
