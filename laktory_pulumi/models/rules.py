"""Pipeline rules against silent overwrites, silent no-ops and names Databricks rejects.

Each rule returns `(path, message)` pairs, as `Pipeline.rule_violations` does, so that the
loader points at the line of the field to blame. They live here rather than in `pipeline.py`
to keep that file to the model itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .names import SYSTEM_COLUMNS, name_problem, segment_problem

if TYPE_CHECKING:
    from .pipeline import Pipeline

Path = tuple[str | int, ...]
Problems = list[tuple[Path, str]]


def pipeline_rules(pipeline: Pipeline) -> Problems:
    """Every rule of this module, in file order of the fields they blame."""
    return [
        *_names(pipeline),
        *_libraries(pipeline),
        *_unique_columns_and_expectations(pipeline),
        *_generated_names(pipeline),
        *_quarantine_is_built(pipeline),
    ]


def _names(pipeline: Pipeline) -> Problems:
    problems: Problems = []
    segment = segment_problem(pipeline.name)
    if segment:
        problems.append((("name",), f"pipeline name {segment}"))
    for field in ("catalog", "target"):
        value = getattr(pipeline, field)
        problem = name_problem(value) if value is not None else None
        if problem:
            problems.append(((field,), f"{field} '{_short(value)}' {problem}"))
    for index, table in enumerate(pipeline.tables):
        problem = name_problem(table.name)
        if problem:
            problems.append((("tables", index, "name"), f"table name {problem}"))
        for position, column in enumerate(table.columns):
            problem = name_problem(column.name)
            if column.name.casefold() in SYSTEM_COLUMNS:
                problem = "is a column the runtime adds itself; give the column another name"
            if problem:
                problems.append(
                    (
                        ("tables", index, "columns", position, "name"),
                        f"column name '{_short(column.name)}' {problem}",
                    )
                )
        events = table.builder.event_source
        if events is not None:
            named: list[tuple[tuple[str, ...], str]] = [(("event_source", "name"), events.name)]
            if events.producer is not None:  # optional, as in Laktory v0.0.22
                named.insert(0, (("event_source", "producer", "name"), events.producer.name))
            for path, value in named:
                problem = segment_problem(value)
                if problem:
                    problems.append((("tables", index, "builder", *path), f"name {problem}"))
    return problems


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def library_path_problem(path: str) -> str | None:
    """Why a library path cannot be deployed, or None.

    Workspace paths are absolute (DLT resolves notebook libraries from the workspace root), and a
    `..` or `.` segment could reach outside the uploaded `notebooks/` folder.
    """
    if not path.startswith("/"):
        return f"'{path}' is relative; a library path starts with '/' (e.g. /pipelines/x.py)"
    if any(part in (".", "..") for part in path.split("/")):
        return f"'{path}' holds a '.' or '..' segment; write the path without them"
    if "\\" in path or "\x00" in path:
        return f"'{path}' holds a backslash or NUL character"
    return None


def _libraries(pipeline: Pipeline) -> Problems:
    problems: Problems = []
    # `libraries: []` with tables is refused by the loader (`loader/libraries.py`): only the
    # YAML says whether the list was written empty; a metadata file always writes it.
    for index, library in enumerate(pipeline.libraries):
        kind = "notebook" if library.notebook is not None else "file"
        problem = library_path_problem(library.path)
        if problem:
            problems.append((("libraries", index, kind, "path"), problem))
    return problems


def _unique_columns_and_expectations(pipeline: Pipeline) -> Problems:
    """Two columns or two expectations of one name: the later would silently replace the earlier.

    Column names compare case-insensitively, as Spark's analyser and Unity Catalog do.
    """
    problems: Problems = []
    for index, table in enumerate(pipeline.tables):
        seen: dict[str, int] = {}
        for position, column in enumerate(table.columns):
            key = column.name.casefold()
            if key in seen:
                problems.append(
                    (
                        ("tables", index, "columns", position, "name"),
                        f"column '{column.name}' is declared twice in {table.name} (first at "
                        f"columns[{seen[key]}])",
                    )
                )
            seen.setdefault(key, position)
        rules: dict[str, int] = {}
        for position, expectation in enumerate(table.expectations):
            if expectation.name in rules:
                problems.append(
                    (
                        ("tables", index, "expectations", position, "name"),
                        f"expectation '{expectation.name}' is declared twice in {table.name} "
                        f"(first at expectations[{rules[expectation.name]}]); DLT keeps only "
                        "one rule per name",
                    )
                )
            rules.setdefault(expectation.name, position)
    return problems


def _generated_names(pipeline: Pipeline) -> Problems:
    """Every dataset the runtime defines (tables, quarantine tables, change views) is unique."""
    owners: dict[str, str] = {}
    for table in pipeline.tables:
        owners.setdefault(table.name.casefold(), f"table {table.name}")
    problems: Problems = []
    for index, table in enumerate(pipeline.tables):
        for generated, field, what in table.generated_datasets:
            path: Path = ("tables", index, *field)
            key = generated.casefold()
            if key in owners:
                problems.append(
                    (
                        path,
                        f"{table.name}'s {what} '{generated}' has the name of {owners[key]}; "
                        "rename one of them",
                    )
                )
                continue
            owners[key] = f"{what} of {table.name}"
            problem = name_problem(generated)
            if problem:
                problems.append((path, f"{table.name}'s {what} '{_short(generated)}' {problem}"))
    return problems


QUARANTINED_LAYERS = ("BRONZE", "SILVER")
"""The layers whose template builds `<table>_quarantine`."""


def _quarantine_is_built(pipeline: Pipeline) -> Problems:
    """Quarantine is refused where no template builds it: it would silently do nothing.

    The bronze and silver templates define `<table>_quarantine` (`runtime.tables.define_table`:
    on bronze, the failing events keep their `_source_file`); not the gold one, and not for a
    CDC table, whose rows go through `apply_changes` (`runtime/tables.py`).
    """
    problems: Problems = []
    for index, table in enumerate(pipeline.tables):
        if not table.quarantine:
            continue
        source = table.builder.table_source
        if table.layer not in QUARANTINED_LAYERS:
            reason = (
                f"this table is {table.layer}; only BRONZE and SILVER tables get a quarantine table"
            )
        elif source is not None and source.cdc is not None:
            reason = "a CDC table applies its changes with apply_changes and gets no quarantine"
        else:
            continue
        problems.append((("tables", index, "quarantine"), f"quarantine is not built: {reason}"))
    return problems
