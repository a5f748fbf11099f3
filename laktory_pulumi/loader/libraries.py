"""Notebook libraries that name a file of the project's `notebooks/` folder must find it there.

A library `/pipelines/x.py` is deployed from `notebooks/x.py` (`deploy/artifacts.py`); when that
file is missing (a typo), the deploy used to keep the path as a workspace notebook that does not
exist, and a local run silently built no table. The check needs the project folder, which the
models do not know, so it runs in the loader, once the file has validated.
"""

from __future__ import annotations

import ast
import difflib
import functools
from pathlib import Path

from ..models import Pipeline
from ..models.base import format_path
from ..models.builder import LAYER_TEMPLATES
from .errors import LoadError, LocatedError
from .yaml_source import YamlSource

LOCAL_NOTEBOOK_PREFIX = "/pipelines/"
"""Library paths under this prefix come from the project's notebooks folder; the same prefix as
`deploy.artifacts.LOCAL_NOTEBOOK_PREFIX` (a test keeps the two equal)."""

NOTEBOOK_SUFFIX = ".py"


def empty_libraries(source: YamlSource) -> list[LocatedError]:
    """`libraries: []` written in a file that declares tables: no notebook would build them.

    Checked on the YAML rather than on the model: a pipeline read back from its metadata file,
    or built in code, has an empty list without anyone having written it.
    """
    data = source.data
    if not isinstance(data, dict) or data.get("libraries") != [] or not data.get("tables"):
        return []
    tables = data["tables"]
    count = len(tables) if isinstance(tables, list) else 1
    return [
        source.error(
            ("libraries",),
            "libraries",
            f"{count} table(s) are declared but no library builds them; add the notebooks "
            "(e.g. /pipelines/dlt_brz_template.py)",
            key=True,
        )
    ]


def omitted_libraries(source: YamlSource, pipeline: Pipeline) -> list[LocatedError]:
    """A file that declares tables but has no `libraries` key: no notebook would build them.

    The deploy would create a pipeline with no source code, and a local run would build
    nothing, both without an error. Checked once the file has validated, so that the message
    can name the notebooks each table needs (its layer's template, or its `template`). Only a
    key absent from the YAML counts: the metadata file, read back without this loader, always
    writes the list.
    """
    data = source.data
    if not isinstance(data, dict) or "libraries" in data or not pipeline.tables:
        return []
    needed = sorted(
        {
            t.builder.notebook
            for t in pipeline.tables
            if t.builder.notebook is not None
            and (
                (t.builder.tag or "").upper() in LAYER_TEMPLATES or t.builder.names_a_notebook_file
            )
        }
    )
    listed = ", ".join(f"{LOCAL_NOTEBOOK_PREFIX}{name}{NOTEBOOK_SUFFIX}" for name in needed)
    return [
        source.error(
            ("tables",),
            "tables",
            f"{len(pipeline.tables)} table(s) are declared but the file has no libraries to "
            f"build them; add libraries with the notebook(s) {listed}",
            key=True,
        )
    ]


def with_notebooks(source: YamlSource, pipeline: Pipeline, notebooks_dir: Path | None) -> Pipeline:
    """`pipeline`, once its tables have libraries and its notebooks are found in
    `notebooks_dir` (unchecked when None)."""
    omitted = omitted_libraries(source, pipeline)
    if omitted:
        raise LoadError(omitted)
    if notebooks_dir is not None:
        check_notebooks(source, pipeline, notebooks_dir)
    return pipeline


def check_notebooks(source: YamlSource, pipeline: Pipeline, notebooks_dir: Path) -> None:
    """A located error for every `/pipelines/...` notebook missing from `notebooks_dir`.

    The file must also resolve inside `notebooks_dir`: a symlink pointing out of it would upload
    a file from elsewhere.
    """
    root = notebooks_dir.resolve()
    errors: list[LocatedError] = []
    for index, library in enumerate(pipeline.libraries):
        if library.notebook is None or not library.path.startswith(LOCAL_NOTEBOOK_PREFIX):
            continue
        relative = library.path.removeprefix(LOCAL_NOTEBOOK_PREFIX).removesuffix(NOTEBOOK_SUFFIX)
        candidate = (root / (relative + NOTEBOOK_SUFFIX)).resolve()
        if candidate.is_file() and candidate.is_relative_to(root):
            continue
        wanted = library.path if library.path.endswith(NOTEBOOK_SUFFIX) else library.path + ".py"
        close = difflib.get_close_matches(wanted, _available(root), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        path = ("libraries", index, "notebook", "path")
        errors.append(
            source.error(
                path,
                format_path(path),
                f"notebook '{library.path}' is not in the project's {notebooks_dir.name}/ folder"
                f"{hint}",
            )
        )
    errors += _template_copies_name_themselves(source, pipeline, root)
    local = _local_notebooks(pipeline, root)  # resolved once for the two checks below
    errors += _copies_listed_but_unused(source, pipeline, local)
    errors += _tags_selected(source, pipeline, root, local)
    if errors:
        raise LoadError(errors)


TEMPLATE_NAME_VARIABLE = "NOTEBOOK"
"""What a generic template sets to its own name; `runtime.tables.tables_of` builds the tables
whose template is that name."""


def _template_copies_name_themselves(
    source: YamlSource, pipeline: Pipeline, root: Path
) -> list[LocatedError]:
    """A table's notebook that is a copy of a template must say its own name in `NOTEBOOK`.

    A copy that still says `NOTEBOOK = "dlt_slv_template"` builds the generic template's
    tables, not the ones whose `template` names the copy: they would validate, deploy, and
    never be built.
    """
    errors: list[LocatedError] = []
    declared_by: dict[str, str | None] = {}  # a file read once, not once per table
    for index, table in enumerate(pipeline.tables):
        notebook = table.builder.notebook
        if notebook is None:
            continue
        if notebook not in declared_by:
            file = root / f"{notebook}{NOTEBOOK_SUFFIX}"
            declared_by[notebook] = _declared_notebook_name(file)
        declared = declared_by[notebook]
        if declared is None or declared == notebook:
            continue
        field = "template" if table.builder.template is not None else "layer"
        path = ("tables", index, "builder", field)
        errors.append(
            source.error(
                path,
                format_path(path),
                f"notebook {notebook}{NOTEBOOK_SUFFIX} sets {TEMPLATE_NAME_VARIABLE} = "
                f"'{declared}', so it builds the tables of '{declared}', not this one; set "
                f"{TEMPLATE_NAME_VARIABLE} = '{notebook}' in the copy",
            )
        )
    return errors


def _copies_listed_but_unused(
    source: YamlSource, pipeline: Pipeline, local: list[tuple[int, str, Path]]
) -> list[LocatedError]:
    """A library notebook whose `NOTEBOOK` names another notebook, and no table names it.

    It defines the tables of that other notebook a second time, which DLT refuses
    (PIPELINE_DUPLICATE_IDENTIFIERS) when both are libraries; located at the library, since
    no table points at the copy (`_template_copies_name_themselves` covers those that do).
    """
    named = {table.builder.notebook for table in pipeline.tables}
    errors: list[LocatedError] = []
    for index, library, file in local:
        declared = _declared_notebook_name(file)
        if declared is None or declared == file.stem or file.stem in named:
            continue
        path = ("libraries", index, "notebook", "path")
        errors.append(
            source.error(
                path,
                format_path(path),
                f"notebook '{library}' sets {TEMPLATE_NAME_VARIABLE} = '{declared}', so it "
                f"defines the tables of '{declared}' a second time (DLT fails the update: "
                f"PIPELINE_DUPLICATE_IDENTIFIERS); set {TEMPLATE_NAME_VARIABLE} = "
                f"'{file.stem}' in the copy, or remove it from libraries",
            )
        )
    return errors


def _tags_selected(
    source: YamlSource, pipeline: Pipeline, root: Path, local: list[tuple[int, str, Path]]
) -> list[LocatedError]:
    """Every table a generic template does not build is selected by a library notebook.

    Laktory's way: a free-form `template` tag (`STOCK_PERFORMANCES`) and a notebook of the
    pipeline's own that builds the tables of that tag (`if table.builder.template ==
    "STOCK_PERFORMANCES"`). What a notebook selects is not knowable without running it, so the
    evidence asked for is the tag as a string constant in the notebook's code (for `template:
    false`, the table's name); without it, the table would validate, deploy and never be built.
    """
    libraries = {file.stem for _, _, file in local}
    listed = {
        library.path.rsplit("/", 1)[-1].removesuffix(NOTEBOOK_SUFFIX)
        for library in pipeline.libraries
        if library.notebook is not None
    }
    constants: dict[str, set[str]] | None = None
    errors: list[LocatedError] = []
    for index, table in enumerate(pipeline.tables):
        builder = table.builder
        tag = builder.tag
        if builder.names_a_notebook_file or builder.notebook in listed:
            continue  # a generic template or a notebook by name (the models check it is listed)
        if constants is None:
            constants = {file.stem: _string_constants(file) for _, _, file in local}
        wanted = {table.name} if tag is None else {tag, table.name}
        if any(wanted & found for found in constants.values()):
            continue
        searched = ", ".join(sorted(libraries)) or "none"
        if tag is None:
            field = "template"
            what = (
                f"template: false, and no notebook of the pipeline's libraries ({searched}) "
                f"names '{table.name}' in its code, so the table would never be built; add the "
                "notebook that builds it to libraries"
            )
        elif tag.upper() in LAYER_TEMPLATES:
            field = "template" if builder.template is not None else "layer"
            what = (
                f"table {table.name} is built by notebook '{builder.notebook}', which is not "
                f"among the pipeline's libraries ({', '.join(sorted(listed))}), and no library "
                f"notebook names the table in its code; add /pipelines/{builder.notebook}.py to "
                "libraries"
            )
        else:
            field = "template"
            named = builder.notebook
            fix = (
                f"add /pipelines/{named}.py (found in {root.name}/) to libraries"
                if named is not None and (root / f"{named}{NOTEBOOK_SUFFIX}").is_file()
                else "add the notebook that builds it (one whose code compares "
                f"table.builder.template with '{tag}') to libraries, or use a layer or a "
                "library notebook's name"
            )
            what = (
                f"template '{tag}': no notebook of the pipeline's libraries ({searched}) selects "
                f"that tag, so table {table.name} would never be built; {fix}"
            )
        path = ("tables", index, "builder", field)
        errors.append(source.error(path, format_path(path), what))
    return errors


def _local_notebooks(pipeline: Pipeline, root: Path) -> list[tuple[int, str, Path]]:
    """(index, path, file) of each notebook library found in the project's notebooks folder."""
    found: list[tuple[int, str, Path]] = []
    for index, library in enumerate(pipeline.libraries):
        if library.notebook is None or not library.path.startswith(LOCAL_NOTEBOOK_PREFIX):
            continue
        relative = library.path.removeprefix(LOCAL_NOTEBOOK_PREFIX).removesuffix(NOTEBOOK_SUFFIX)
        file = (root / (relative + NOTEBOOK_SUFFIX)).resolve()
        if file.is_file() and file.is_relative_to(root):
            found.append((index, library.path, file))
    return found


def _code(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _parsed(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _string_constants(path: Path) -> set[str]:
    """Every string constant of a notebook's code (comments and docstrings' words aside)."""
    code = _code(path)
    return set() if code is None else set(_constants_in(code))


# What a notebook's code declares, cached by its text: every pipeline of a stack names the same
# few templates, and parsing them again for each table of each pipeline cost more than the rest
# of these checks. The text is read each time, so an edited notebook is parsed again.
@functools.lru_cache(maxsize=64)
def _constants_in(code: str) -> frozenset[str]:
    tree = _parsed(code)
    if tree is None:
        return frozenset()
    return frozenset(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _declared_notebook_name(path: Path) -> str | None:
    """The string a notebook assigns to `NOTEBOOK` at top level (`NOTEBOOK = "x"`, or annotated:
    `NOTEBOOK: str = "x"`), if it is a readable file."""
    code = _code(path)
    return None if code is None else _declared_name_in(code)


@functools.lru_cache(maxsize=64)
def _declared_name_in(code: str) -> str | None:
    tree = _parsed(code)
    if tree is None:
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if (
            any(isinstance(t, ast.Name) and t.id == TEMPLATE_NAME_VARIABLE for t in targets)
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
        ):
            return value.value
    return None


def _available(root: Path) -> list[str]:
    """Every notebook of `root` as a library path, for a hint (only when one is missing)."""
    if not root.is_dir():
        return []
    return sorted(
        LOCAL_NOTEBOOK_PREFIX + path.relative_to(root).as_posix()
        for path in root.rglob(f"*{NOTEBOOK_SUFFIX}")
    )
