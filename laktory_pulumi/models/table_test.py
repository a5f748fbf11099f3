"""Declarative table tests: given rows for some upstream tables or event sources, a table must
hold these rows (or meet these conditions).

A test lives in its pipeline's file, under `tests:`. It names the table under test (a table of
the pipeline, or its quarantine table), gives rows for the inputs it starts from, and says
what it expects. `laktory-pulumi test` (`laktory_pulumi/testing/`) builds only the tables
between the inputs and the table, from the given rows; this module describes a test and checks,
without Spark, that it can run: every input is read on the way to the table, and every table
on that way reads something given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from .base import FieldError, Model, exactly_one
from .sources import EventSource

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .table import Table

Path = tuple[str | int, ...]
Problems = list[tuple[Path, str]]


def _one_is_a_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class GivenRows(Model):
    """Rows a test starts from: what one upstream table holds, or what one event source lands."""

    table: str | None = Field(
        default=None,
        description="A table of the pipeline upstream of the table under test. Its rows replace "
        "what the table would compute; each value is cast to the type of its declared column, "
        "declared columns left out are NULL, other columns keep the type of their values.",
    )
    event_source: str | None = Field(
        default=None,
        description="An event source read on the way to the table under test, by its `name` or "
        "`producer/name`. Its rows are landed as one JSON file and read as the pipeline reads "
        "events (types inferred, `_source_file` set).",
    )
    rows: list[dict[str, Any]] | None = Field(
        default=None,
        description="The rows, one mapping of column (or event field) to value each; nested "
        "mappings are structs.",
    )
    file: str | None = Field(
        default=None,
        description="A JSON lines file of the project holding the rows (one object per line), "
        "relative to the project folder, instead of `rows`.",
    )

    @model_validator(mode="after")
    def _one_input_and_one_content(self) -> GivenRows:
        exactly_one(self, "table", "event_source")
        exactly_one(self, "rows", "file")
        return self

    @property
    def input_name(self) -> str:
        """The table or event source given."""
        return self.table or self.event_source or ""


class ExpectedRows(Model):
    """What the table under test must hold: rows, and conditions on all of them."""

    rows: list[dict[str, Any]] | None = Field(
        default=None,
        description="Exactly the rows the table must hold, on the compared `columns`; each value "
        "is cast to the type of the table's column. Compared as a multiset unless `order_by`.",
    )
    file: str | None = Field(
        default=None,
        description="A JSON lines file of the project holding the expected rows, instead of "
        "`rows`.",
    )
    columns: Annotated[list[str] | None, BeforeValidator(_one_is_a_list)] = Field(
        default=None,
        description="The columns compared (default: every column named in the expected rows); "
        "the table's other columns are ignored.",
    )
    order_by: Annotated[list[str] | None, BeforeValidator(_one_is_a_list)] = Field(
        default=None,
        description="SQL expressions the table's rows are sorted by before they are compared "
        "with the expected rows, in order. Without it the order does not matter.",
    )
    row_count: int | None = Field(
        default=None, ge=0, description="How many rows the table must hold."
    )
    unique: Annotated[list[str] | None, BeforeValidator(_one_is_a_list)] = Field(
        default=None,
        description="Column(s) no two rows share (a unique key, NULL included).",
        min_length=1,
    )
    conditions: Annotated[list[str], BeforeValidator(_one_is_a_list)] = Field(
        default_factory=list,
        description="SQL predicates every row must meet; a NULL result fails, as in an "
        "expectation.",
    )
    tolerance: float = Field(
        default=1e-9,
        ge=0,
        description="Relative tolerance when comparing floating-point values.",
    )

    @model_validator(mode="after")
    def _something_expected(self) -> ExpectedRows:
        if self.rows is not None and self.file is not None:
            raise FieldError("file", "give the expected rows inline (rows) or in a file, not both")
        if (
            self.rows is None
            and self.file is None
            and self.row_count is None
            and self.unique is None
            and not self.conditions
        ):
            raise ValueError(
                "a test expects something: rows (or file), row_count, unique or conditions"
            )
        if self.order_by is not None and self.rows is None and self.file is None:
            raise FieldError("order_by", "order_by orders the expected rows; give rows or file")
        return self


class TableTest(Model):
    """A test of one table: rows given for some of its inputs, and what it must hold."""

    name: str = Field(
        description="Test name, unique in the pipeline; `laktory-pulumi test --select NAME`.",
        min_length=1,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
    )
    table: str = Field(
        description="The table under test: a table of the pipeline or its `<name>_quarantine`."
    )
    given: list[GivenRows] = Field(
        description="The inputs the test starts from. Only the tables between them and the "
        "table under test are built; every one of them must read a given input, directly or "
        "through the others.",
        min_length=1,
    )
    expect: ExpectedRows = Field(description="What the table must hold.")


# Rules needing the pipeline --------------------------------------------------------------


def owner_of(pipeline: Pipeline, name: str) -> Table | None:
    """The table called `name`, or the table whose quarantine table it is."""
    for table in pipeline.tables:
        if table.name == name or (table.quarantine and table.quarantine_name == name):
            return table
    return None


def event_source_names(source: EventSource) -> set[str]:
    """How a test may name an event source: `name` or `producer/name`."""
    return {source.name, source.folder}


def tables_between(pipeline: Pipeline, test: TableTest) -> list[Table]:
    """The tables a test builds, in build order: the table under test and every table on the
    way from the given inputs to it. Given tables are not built (their rows stand for them)."""
    given_tables = {given.table for given in test.given if given.table}
    owner = owner_of(pipeline, test.table)
    if owner is None:
        return []
    names = {table.name for table in pipeline.tables}
    ordered: list[Table] = []

    def visit(table: Table) -> None:
        if any(placed.name == table.name for placed in ordered):
            return
        for _, read in _reads(table):
            if read in names and read not in given_tables:
                visit(pipeline.table(read))
        ordered.append(table)

    visit(owner)
    return ordered


def _reads(table: Table) -> list[tuple[Path, str]]:
    from .pipeline import table_reads

    return table_reads(table)


def table_test_rules(pipeline: Pipeline) -> Problems:
    """Each test names a table, gives inputs that are read on the way to it, and leaves no
    table on that way without a given input."""
    problems: Problems = []
    seen: dict[str, int] = {}
    for index, test in enumerate(pipeline.tests):
        here: Path = ("tests", index)
        if test.name in seen:
            problems.append(
                (
                    (*here, "name"),
                    f"test '{test.name}' is declared twice (first at tests[{seen[test.name]}])",
                )
            )
        seen.setdefault(test.name, index)
        problems += _test_problems(pipeline, test, here)
    return problems


def _test_problems(pipeline: Pipeline, test: TableTest, here: Path) -> Problems:
    import difflib

    owner = owner_of(pipeline, test.table)
    if owner is None:
        known = [t.name for t in pipeline.tables]
        close = difflib.get_close_matches(test.table, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return [((*here, "table"), f"no table '{test.table}' in this pipeline{hint}")]
    problems: Problems = []
    upstream = {table.name for table in pipeline.upstream(owner)}
    built = tables_between(pipeline, test)
    reads_of_built = {read for table in built for _, read in _reads(table)}
    events_of_built = {name for table in built for name in _event_names(table)}
    given_names: dict[str, int] = {}
    for position, given in enumerate(test.given):
        at: Path = (*here, "given", position, "table" if given.table else "event_source")
        name = given.input_name
        if name in given_names:
            problems.append((at, f"{name} is given twice (first at given[{given_names[name]}])"))
            continue
        given_names[name] = position
        if given.table is not None:
            if given.table == owner.name:
                problems.append(
                    (at, f"{given.table} is the table under test; give rows for its inputs")
                )
            elif given.table not in upstream:
                problems.append(
                    (
                        at,
                        f"{given.table} is not upstream of {test.table}: {owner.name} never "
                        f"reads it{_upstream_hint(pipeline, owner)}",
                    )
                )
            elif unknown := _undeclared_keys(pipeline.table(given.table), given):
                problems.append(
                    (
                        (*here, "given", position, "rows"),
                        f"{', '.join(unknown)}: not a column of {given.table} (its columns: "
                        f"{', '.join(pipeline.table(given.table).output_columns or [])})",
                    )
                )
            elif given.table not in reads_of_built:
                problems.append(
                    (
                        at,
                        f"{given.table} is not read: the other inputs given stand for every "
                        f"table reading it on the way to {test.table}",
                    )
                )
        elif given.event_source not in events_of_built:
            every_event = {
                name for table in [*pipeline.upstream(owner), owner] for name in _event_names(table)
            }
            why = (
                "a table given too stands for the tables reading it"
                if given.event_source in every_event
                else f"no table on the way to {test.table} reads it"
            )
            problems.append((at, f"event source {given.event_source} is not read: {why}"))
    for position, given in enumerate(test.given):
        formats = {
            # A Kinesis source streams only, and a test reads its inputs whole.
            "a Kinesis stream" if source.kinesis is not None else source.format
            for table in built
            for source in table.builder.sources
            if isinstance(source, EventSource) and given.event_source in event_source_names(source)
        }
        if formats - {"JSON"}:
            problems.append(
                (
                    (*here, "given", position, "event_source"),
                    f"event rows are landed as JSON, and {given.event_source} reads "
                    f"{', '.join(sorted(formats - {'JSON'}))}: give rows of the table reading it",
                )
            )
    given_events = {given.event_source for given in test.given if given.event_source}
    for table in built:
        for source in table.builder.sources:
            if not isinstance(source, EventSource):
                continue
            if not event_source_names(source) & given_events:
                problems.append(
                    (
                        (*here, "given"),
                        f"{table.name} reads the event source {source.folder}: give its rows "
                        f"(event_source: {source.name}), or rows of a table reading it",
                    )
                )
        for _, source in table.builder.table_reads:
            if source.is_external:
                problems.append(
                    (
                        (*here, "given"),
                        f"{table.name} reads the catalog table {source.name}, which a test "
                        "cannot stand for; give rows of a table reading it",
                    )
                )
    return problems


def _undeclared_keys(table: Table, given: GivenRows) -> list[str]:
    """Keys of the given rows that are neither a declared column of the table nor a system
    column (`_bronze_at`, ...): a misspelt column would otherwise be NULL."""
    declared = table.output_columns
    if declared is None or given.rows is None:
        return []
    keys = dict.fromkeys(key for row in given.rows for key in row)
    return [key for key in keys if key not in declared and not key.startswith("_")]


def _event_names(table: Table) -> set[str]:
    """Every name a test may give the event sources `table` reads by."""
    return {
        name
        for source in table.builder.sources
        if isinstance(source, EventSource)
        for name in event_source_names(source)
    }


def _upstream_hint(pipeline: Pipeline, owner: Table) -> str:
    names = [table.name for table in pipeline.upstream(owner)]
    return f" (its upstream tables: {', '.join(names)})" if names else " (it reads no table)"
