"""Python functions of the project: UDFs a column calls, transforms a table applies.

A pipeline's `udfs` (Laktory v0.0.22's `PipelineUDF`: `module_name`, `function_name`,
`module_path`) make a function callable as a column's `spark_func_name`; a table's `transform`
names a function taking and returning a DataFrame. The modules live in the project's
`notebooks/` folder, next to the notebooks (Laktory's templates import them from the notebooks'
own folder, `sys.path.append("/Workspace/pipelines/")`), and are deployed next to them.

Validation never imports user code: the module file is found under the folder set by
`modules_found_in` (the loader sets the project's `notebooks/`) and parsed with `ast` to find
the function's name at its top level. Without such a folder (metadata read back at run time on
Databricks, where the YAML's project is not around) only names are checked.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path, PurePosixPath

from pydantic import Field, field_validator

from .base import Model

MODULES_FOLDER = "notebooks"
"""Folder of the project holding the notebooks and the UDF and transform modules."""

_DOTTED_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

_modules_root: ContextVar[Path | None] = ContextVar("laktory_modules_root", default=None)


class FunctionRef(Model):
    """A function of a Python module of the project."""

    module_name: str = Field(
        description="Module holding the function, e.g. `stock_functions` for "
        "`notebooks/stock_functions.py` (dotted for a sub-folder: `udfs.prices`). Deployed next "
        "to the pipeline's notebooks.",
        pattern=_DOTTED_NAME,
    )
    function_name: str = Field(
        description="Name of the function, defined at the module's top level.", pattern=_NAME
    )

    @property
    def relative_path(self) -> str:
        """`udfs.prices` -> `udfs/prices.py`: the module's file under the notebooks folder."""
        return self.module_name.replace(".", "/") + ".py"


class PipelineUdf(FunctionRef):
    """A user-defined function a column may call by name in `spark_func_name`.

    It is called like a `pyspark.sql.functions` function: with the column's arguments (Spark
    Columns or plain values) and returns a Column. A UDF named like a Spark function wins, as in
    Laktory.
    """

    module_path: str | None = Field(
        default=None,
        description="Workspace folder holding the module when it is not a module of the "
        "project's `notebooks/` (Laktory's meaning); it is added to `sys.path` at run time and the "
        "module is neither deployed nor checked at validation. No `..` part: the folder is "
        "named from the workspace's root.",
    )

    @field_validator("module_path")
    @classmethod
    def _no_climbing(cls, value: str | None) -> str | None:
        # At run time the folder is the workspace root joined with this path: `..` would
        # import code from outside the workspace (or, locally, outside the state folder).
        if value is not None and ".." in PurePosixPath(value).parts:
            raise ValueError(
                f"module_path '{value}' climbs out with '..'; name the workspace folder from "
                "the workspace's root, e.g. /Workspace/Shared/udfs"
            )
        return value


class Transform(FunctionRef):
    """A function `f(df) -> df` applied to a table once its columns are built."""


@contextmanager
def modules_found_in(folder: Path) -> Iterator[None]:
    """Within this block, validation checks module files under `folder`."""
    token = _modules_root.set(folder)
    try:
        yield
    finally:
        _modules_root.reset(token)


def modules_root() -> Path | None:
    """The folder validation finds modules in, or None when files are not checked."""
    return _modules_root.get()


def missing_function(ref: FunctionRef, root: Path) -> tuple[str, str] | None:
    """Why `ref` cannot be found under `root`: `(field, message)`, or None when it can.

    The module is confined as notebooks are (`loader.libraries.check_notebooks`): its real
    path, symlinks resolved, lies inside `root`'s, or the deploy would upload a file from
    elsewhere.
    """
    path = root / ref.relative_path
    real_root, real = root.resolve(), path.resolve()
    if path.exists() and not real.is_relative_to(real_root):
        return (
            "module_name",
            f"module '{ref.module_name}' is {real} (a symlink), outside the project's "
            f"{MODULES_FOLDER}/ folder; only the project's own files are deployed: copy it in",
        )
    try:
        names = _top_level_names(path)
    except SyntaxError as error:
        return (
            "module_name",
            f"module '{ref.module_name}' does not parse: {path}:{error.lineno}: {error.msg}",
        )
    if names is None:
        return (
            "module_name",
            f"no module '{ref.module_name}': {path} does not exist (modules of the project live "
            f"in its {MODULES_FOLDER}/ folder)",
        )
    if ref.function_name in names:
        return None
    close = difflib.get_close_matches(ref.function_name, sorted(names), n=3)
    hint = f"; close names: {', '.join(close)}" if close else ""
    return (
        "function_name",
        f"module '{ref.module_name}' ({path.name}) defines no '{ref.function_name}'{hint}",
    )


def _top_level_names(path: Path) -> frozenset[str] | None:
    """Names a module defines at its top level (functions, assignments, imports), None if absent."""
    try:
        stat = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    return _names_in(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _names_in(path: str, _mtime_ns: int, _size: int) -> frozenset[str]:
    tree = ast.parse(Path(path).read_text(), filename=path)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def handler_call_problem(ref: FunctionRef, root: Path) -> str | None:
    """Why `ref`'s function cannot be called `handler(df, batch_id)`, or None when it can.

    Read from its `def` at the module's top level (never imported). A name bound otherwise
    (an assignment, an import, a class) or a decorated function is not checked: what it calls
    is known at run time only.
    """
    path = root / ref.relative_path
    try:
        tree = _parsed(str(path), *_stamp(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None  # `missing_function` says what is wrong with the file
    definition = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == (
            ref.function_name
        ):
            definition = node  # the last definition wins, as at import
        elif isinstance(node, _BINDING) and ref.function_name in _bound_names(node):
            definition = None
    if definition is None or definition.decorator_list:
        return None
    where = f"{ref.module_name}.{ref.function_name} ({path.name}:{definition.lineno})"
    if isinstance(definition, ast.AsyncFunctionDef):
        return f"{where} is async; Spark calls a foreach_batch handler as handler(df, batch_id)"
    arguments = definition.args
    positional = [*arguments.posonlyargs, *arguments.args]
    required = len(positional) - len(arguments.defaults)
    keyword_only = [
        a.arg
        for a, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
        if default is None
    ]
    takes_two = required <= 2 and (len(positional) >= 2 or arguments.vararg is not None)
    if takes_two and not keyword_only:
        return None
    shown = ", ".join(a.arg for a in positional) + (
        f", *{arguments.vararg.arg}" if arguments.vararg else ""
    )
    also = f" and needs keyword-only {', '.join(keyword_only)}" if keyword_only else ""
    return (
        f"{where} takes ({shown.strip(', ')}){also}; a foreach_batch handler is called "
        "handler(df, batch_id): the micro-batch's rows and its number"
    )


_BINDING = (ast.Assign, ast.AnnAssign, ast.ClassDef, ast.Import, ast.ImportFrom)


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=64)
def _parsed(path: str, _mtime_ns: int, _size: int) -> ast.Module:
    return ast.parse(Path(path).read_text(), filename=path)


def _bound_names(node: ast.stmt) -> set[str]:
    """Names a top-level statement other than a `def` binds."""
    if isinstance(node, ast.ClassDef):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[attr-defined]
    return {t.id for t in targets if isinstance(t, ast.Name)}
