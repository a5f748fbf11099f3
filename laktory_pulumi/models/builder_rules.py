"""Rules across a pipeline's table builders: joins Spark can run, join keys on both sides,
each table's notebook deployed, columns that say how they are computed.

Functions of the pipeline rather than methods, so that `Pipeline` stays a description and each
family of rules is one module (see `rules.py` for the naming and library rules).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from .builder import LAYER_SYSTEM_COLUMNS, LAYER_TEMPLATES
from .joins import STREAM_STATIC_HOW, STREAM_STREAM_HOW, TableJoin

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .sources import TableSource
    from .table import Table

Path = tuple[str | int, ...]


def builder_rules(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Every rule of this module, each problem with the path of the field to blame."""
    return [
        *_joins_runnable(pipeline),
        *_join_keys_exist(pipeline),
        *_templates_deployed(pipeline),
        *_columns_computed(pipeline),
        *_sequence_columns_exist(pipeline),
    ]


def _sequence_columns_exist(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """A CDC table's sequence columns are columns of its change feed, when the YAML says
    which columns the feed has (else `validate --deep` finds them with Spark)."""
    problems: list[tuple[Path, str]] = []
    for index, table in enumerate(pipeline.tables):
        source = table.builder.table_source
        cdc = source.cdc if source is not None else None
        if cdc is None or cdc.sequence_columns is None:
            continue
        names = known_columns(pipeline, table)
        if names is None:
            continue
        path: Path = ("tables", index, "builder", "table_source", "cdc", "sequence_by")
        several = isinstance(cdc.sequence_by, list)
        for position, name in enumerate(cdc.sequence_columns):
            if name in names:
                continue
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(
                (
                    (*path, position) if several else path,
                    f"sequence column '{name}' is not a column of the table's change feed{hint}; "
                    f"it has {', '.join(names)}",
                )
            )
    return problems


def _joins_runnable(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Joins Spark can run: the stream and batch combinations of its streaming guide."""
    problems: list[tuple[Path, str]] = []
    for index, table in enumerate(pipeline.tables):
        builder = table.builder
        left_stream = builder.reads_stream
        left_watermark = builder.table_source.watermark if builder.table_source else None
        for field in ("joins", "joins_post_aggregation"):
            for position, join in enumerate(getattr(builder, field)):
                path: Path = ("tables", index, "builder", field, position)
                problems.extend(_join_problems(join, path, left_stream, left_watermark is not None))
        if builder.pipeline_name is not None and builder.pipeline_name != pipeline.name:
            problems.append(
                (
                    ("tables", index, "builder", "pipeline_name"),
                    f"pipeline_name '{builder.pipeline_name}' is not this pipeline's name "
                    f"'{pipeline.name}'",
                )
            )
    return problems


def _columns_computed(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Columns of a table with a source say how they are computed (static data need not)."""
    return [
        (
            ("tables", index, "columns", position),
            "exactly one of spark_func_name or sql_expression is required (found neither)",
        )
        for index, table in enumerate(pipeline.tables)
        if table.data is None
        for position, column in enumerate(table.columns)
        if not column.is_computed
    ]


def known_columns(pipeline: Pipeline, table: Table) -> list[str] | None:
    """The columns `table` holds, when its YAML alone says so (None when they depend on its
    source's data, e.g. a bronze table's events); with the system columns it may have."""
    declared = _declared_output(pipeline, table)
    if declared is None:
        return None
    system = [name for name in LAYER_SYSTEM_COLUMNS[table.layer] if name not in declared]
    return [*declared, *system]


def _declared_output(pipeline: Pipeline, table: Table) -> list[str] | None:
    builder = table.builder
    if isinstance(builder.selects, list):
        return list(builder.selects)
    if isinstance(builder.selects, dict):
        return list(builder.selects.values())
    if table.data is not None:
        return [column.name for column in table.columns]
    if builder.aggregation is not None and not builder.joins_post_aggregation:
        return table.output_columns
    if builder.drops_source_columns and table.columns:
        return table.output_columns
    return None


def _read_columns(
    pipeline: Pipeline, tables: dict[str, Table], source: TableSource
) -> list[str] | None:
    """The columns a read of another table gives, when known from the YAML (`tables`: the
    pipeline's tables by name)."""
    if isinstance(source.selects, list):
        return list(source.selects)
    if isinstance(source.selects, dict):
        return list(source.selects.values())
    if source.is_external or source.name not in tables:
        return None
    return known_columns(pipeline, tables[source.name])


def _join_keys_exist(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """A join's `on` columns exist on both sides, where the YAML tells both sides' columns."""
    problems: list[tuple[Path, str]] = []
    tables = {table.name: table for table in pipeline.tables}
    for index, table in enumerate(pipeline.tables):
        builder = table.builder
        if not builder.joins:
            continue
        declared = [column.name for column in table.columns]
        left: list[str] | None = None
        if builder.table_source is not None:
            left = _read_columns(pipeline, tables, builder.table_source)
        elif table.data is not None:
            left = declared
        if left is not None:
            keys = {key for join in builder.joins for key in join.on}
            left = [*left, *(name for name in declared if name in keys)]
        for position, join in enumerate(builder.joins):
            other = _read_columns(pipeline, tables, join.other)
            path: Path = ("tables", index, "builder", "joins", position, "on")
            for side, names in (("the table's source", left), (join.other.name, other)):
                if names is None:
                    continue
                for key in join.on:
                    if key in names:
                        continue
                    close = difflib.get_close_matches(key, names, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    problems.append(
                        (
                            path,
                            f"join column '{key}' is not a column of {side}{hint}; it has "
                            f"{', '.join(names)}",
                        )
                    )
            if left is not None and other is not None:
                left = [*left, *(name for name in other if name not in join.on)]
            else:
                left = None
    return problems


def _templates_deployed(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Each table's template names a notebook among the pipeline's libraries, when it names one.

    A template written as a notebook file (`x.py`) needs that notebook; a layer tag needs the
    layer's generic template, unless another notebook of the pipeline's own may build the table
    (a file from before templates: a gold table built by its own notebook). A free-form tag (Laktory's `STOCK_PERFORMANCES`) or `false` is
    selected by what a library notebook's code says, which only the loader can read
    (`loader/libraries.py`). Checked when the pipeline lists libraries; a pipeline file with
    tables and no libraries is refused by the loader, which knows whether the key was written.
    """
    if not pipeline.libraries:
        return []
    notebooks = {
        library.path.rsplit("/", 1)[-1].removesuffix(".py")
        for library in pipeline.libraries
        if library.notebook is not None
    }
    # Notebooks other than the generic templates: what they build only their code says.
    own_notebooks = notebooks - set(LAYER_TEMPLATES.values())
    problems: list[tuple[Path, str]] = []
    for index, table in enumerate(pipeline.tables):
        builder = table.builder
        notebook = builder.notebook
        if notebook is None or notebook in notebooks:
            continue
        tag = builder.tag or ""
        if tag.upper() not in LAYER_TEMPLATES and not builder.names_a_notebook_file:
            continue  # a free-form tag: a library notebook selects it (the loader checks)
        if not builder.names_a_notebook_file and own_notebooks:
            continue  # a notebook of the pipeline's own may build it by name (the loader checks)
        field = "template" if builder.template is not None else "layer"
        problems.append(
            (
                ("tables", index, "builder", field),
                f"table {table.name} is built by notebook '{notebook}', which is not among "
                f"the pipeline's libraries ({', '.join(sorted(notebooks)) or 'none'}); add "
                f"/pipelines/{notebook}.py to libraries",
            )
        )
    return problems


def _join_problems(
    join: TableJoin, path: Path, left_stream: bool, left_watermark: bool
) -> list[tuple[Path, str]]:
    """Why Spark would refuse this join, given how both sides are read."""
    other = join.other
    explicit_constraints = {
        name
        for name in ("time_constraint_interval_lower", "time_constraint_interval_upper")
        if getattr(join, name) is not None
    }
    if not other.read_as_stream:
        if left_stream and join.how not in STREAM_STATIC_HOW:
            return [
                (
                    (*path, "how"),
                    f"a stream joined with a batch read supports {', '.join(sorted(STREAM_STATIC_HOW))}"
                    f" (not {join.how}); read the other side as a stream too, or the source whole",
                )
            ]
        if explicit_constraints:
            return [
                (
                    (*path, sorted(explicit_constraints)[0]),
                    "time constraints bound stream-stream joins only (the other side is read "
                    "whole: read_as_stream: false)",
                )
            ]
        return []
    if not left_stream:
        return [
            (
                (*path, "other", "read_as_stream"),
                "a batch source cannot join a stream: read the other side whole "
                "(read_as_stream: false) or the source as a stream",
            )
        ]
    if join.how not in STREAM_STREAM_HOW:
        return [((*path, "how"), f"two streams cannot be joined with how: {join.how}")]
    problems: list[tuple[Path, str]] = []
    if other.watermark is None:
        problems.append(
            (
                (*path, "other"),
                "both sides stream: the other side needs a watermark (other.watermark), which "
                "bounds the join's state",
            )
        )
    if not left_watermark:
        problems.append(
            (
                (*path, "other", "read_as_stream"),
                "both sides stream: the table's source needs a watermark "
                "(table_source.watermark), which bounds the join's state",
            )
        )
    return problems
