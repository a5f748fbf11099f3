"""The project's UDFs and transforms, imported where the deploy put them.

The deploy writes each module of `pipeline.udfs` and of the tables' `transform` next to the
pipeline's notebooks (`<laktory root>pipelines/<pipeline>/<module>.py`, see
`deploy.artifacts`): under `/Workspace` on Databricks, under the local run's workspace folder
(`$LAKTORY_WORKSPACE_ROOT`) locally. That folder is put first on `sys.path` and the modules are
imported by name, as Laktory's templates do. A UDF's `module_path` (Laktory's meaning: a
workspace folder holding a module the project does not deploy) is added too.
"""

from __future__ import annotations

import contextvars
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..metadata import (
    DATABRICKS_WORKSPACE,
    DEFAULT_LAKTORY_ROOT,
    LAKTORY_ROOT_ENV,
    LAKTORY_ROOT_KEY,
    workspace_root,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ..models import Pipeline, Table
    from ..models.udf import FunctionRef


class UserFunctionError(ImportError):
    """A UDF or transform cannot be imported where the deploy put it."""


_source_folder: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "modules_source_folder", default=None
)


@contextmanager
def modules_from_source(folder: Path) -> Iterator[None]:
    """Within this block, import the project's modules from `folder` (its `notebooks/`).

    For what analyses a pipeline before anything is deployed or laid out: `validate --deep` and
    `run`'s pre-flight read the same module files the deploy would upload.
    """
    token = _source_folder.set(folder)
    try:
        yield
    finally:
        _source_folder.reset(token)


def modules_folder(pipeline: Pipeline) -> Path:
    """The folder the deploy wrote the pipeline's notebooks and modules to."""
    source = _source_folder.get()
    if source is not None:
        return source
    root = _laktory_root()
    return workspace_root() / root.strip("/") / "pipelines" / pipeline.name


def user_functions(table: Table) -> dict[str, Callable[..., Any]]:
    """The UDFs a column of `table` may call, by function name; empty without a pipeline."""
    pipeline = table._pipeline.target
    if pipeline is None or not pipeline.udfs:  # type: ignore[attr-defined]
        return {}
    return {
        udf.function_name: import_function(udf, pipeline, udf.module_path)
        for udf in pipeline.udfs  # type: ignore[attr-defined]
    }


def apply_transform(table: Table, df: DataFrame) -> DataFrame:
    """The table's `transform` applied to `df`, or `df` when it declares none."""
    if table.transform is None:
        return df
    function = import_function(table.transform, table.pipeline)
    result = function(df)
    if not hasattr(result, "sparkSession"):
        raise TypeError(
            f"table {table.name}: transform {table.transform.module_name}."
            f"{table.transform.function_name} returned {type(result).__name__}, not a DataFrame"
        )
    return result


def import_function(
    ref: FunctionRef, pipeline: Pipeline, module_path: str | None = None
) -> Callable[..., Any]:
    """`ref`'s function, its module imported from the deployed folder (or `module_path`)."""
    folder = workspace_root() / module_path.strip("/") if module_path else modules_folder(pipeline)
    if str(folder) in sys.path:
        sys.path.remove(str(folder))
    sys.path.insert(0, str(folder))  # first, so no folder added before shadows it
    _forget_if_elsewhere(ref.module_name, folder)
    try:
        module = importlib.import_module(ref.module_name)
    except ModuleNotFoundError as error:
        raise UserFunctionError(
            f"pipeline {pipeline.name}: no module '{ref.module_name}' in {folder} ({error})"
        ) from None
    function = getattr(module, ref.function_name, None)
    if not callable(function):
        raise UserFunctionError(
            f"pipeline {pipeline.name}: module '{ref.module_name}' ({module.__file__}) has no "
            f"function '{ref.function_name}'"
        )
    return function


def _forget_if_elsewhere(module_name: str, folder: Path) -> None:
    """Drop the cached import of `module_name`'s top package when it came from another folder.

    Python caches a module by name alone: in one process that analyses or runs several
    projects (`validate --deep` of a stack whose pipelines deploy to their own folders, a test
    session), a module named like another project's would otherwise be that project's.
    """
    top = module_name.split(".", 1)[0]
    cached = sys.modules.get(top)
    origin = getattr(cached, "__file__", None) if cached is not None else None
    if cached is None or (
        origin is not None and Path(origin).resolve().is_relative_to(folder.resolve())
    ):
        return
    for name in [name for name in sys.modules if name == top or name.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def workspace_folder(module_path: str) -> Path:
    """A workspace folder on this machine; `/Workspace/x` (as Laktory users write it) or `/x`."""
    relative = module_path.removeprefix(DATABRICKS_WORKSPACE + "/").strip("/")
    return workspace_root() / relative


def _laktory_root() -> str:
    """The running pipeline's laktory root: its configuration, else `$LAKTORY_ROOT`."""
    from . import dlt

    try:
        from pyspark.sql import SparkSession

        session = dlt.spark or SparkSession.getActiveSession()
    except ImportError:
        session = None
    configured = session.conf.get(LAKTORY_ROOT_KEY, None) if session is not None else None
    return configured or os.environ.get(LAKTORY_ROOT_ENV, DEFAULT_LAKTORY_ROOT)
