"""What a SQL table reads, as Spark's own SQL parser finds it (never a regex).

A table defined by `sql:` reads the tables its query names. Spark's parser
(`CatalystSqlParser.parsePlan`, the parser `spark.sql` uses) turns the text into an unresolved
plan whose `UnresolvedRelation` nodes are the tables read; names a `WITH` clause defines are
not tables. The parser lives in the JVM, so:

- where a project is loaded (`laktory-pulumi validate`, `run`, `graph`, the Pulumi program:
  the loader enters `sql_parsing`), a query not parsed before is parsed on a JVM started once
  per process (`pyspark`'s gateway, without a SparkContext), and the result is kept in
  `<project>/.laktory/sql_inputs.json`, keyed by the query's SHA-256, so later loads (and a
  deploy machine without Java, once the file is committed) need no JVM;
- the result is stored in the table's `sql_inputs` and so in the deployed metadata, which
  notebooks read back on Databricks without parsing anything.

Without a JVM and without a kept result, validation fails at the query's line and says how to
get one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

CACHE_FILE = Path(".laktory") / "sql_inputs.json"

_cache_file: ContextVar[Path | None] = ContextVar("laktory_sql_cache", default=None)
SQL_TABLE: ContextVar[bool] = ContextVar("laktory_sql_table", default=False)
"""While a table is validated: whether it is a SQL table, which needs no builder source. The
table's wrap validator sets and resets it by hand (a context manager cost more than the rest
of that validator, which runs for every table of every load)."""
_parsed: dict[str, list[str]] = {}
_gateway: Any = None


class SqlParseError(ValueError):
    """The query does not parse, or cannot be parsed here."""


@contextmanager
def sql_parsing(project_dir: Path) -> Iterator[None]:
    """Within this block, SQL tables' queries are parsed, with results kept in the project."""
    token = _cache_file.set(project_dir / CACHE_FILE)
    try:
        yield
    finally:
        _cache_file.reset(token)


def is_sql_table() -> bool:
    """Whether the table being validated is defined by `sql` (see `SQL_TABLE`)."""
    return SQL_TABLE.get()


def parsing_enabled() -> bool:
    """Whether queries are parsed here (a project is being loaded)."""
    return _cache_file.get() is not None


def query_key(sql: str) -> str:
    """The key of a query in the kept results."""
    return hashlib.sha256(sql.encode()).hexdigest()


def tables_read(sql: str) -> list[str]:
    """The tables `sql` reads, in order of first mention, dotted (`catalog.schema.table`)."""
    key = query_key(sql)
    cache_file = _cache_file.get()
    kept = _read_cache(cache_file)
    if key in kept:  # the project's kept result first: it is what a deploy without Java sees
        return list(kept[key])
    found = _parsed[key] if key in _parsed else _parse(sql)
    _parsed[key] = found
    if cache_file is not None:
        kept[key] = found
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(".partial")
        partial.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
        partial.replace(cache_file)
    return found


def _read_cache(path: Path | None) -> dict[str, list[str]]:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _jvm() -> Any:
    global _gateway
    if _gateway is None:
        try:
            from pyspark.java_gateway import launch_gateway
        except ImportError:
            raise SqlParseError(
                "the query's tables come from Spark's SQL parser, and pyspark is not installed "
                f"here; install the `spark` extra, or commit {CACHE_FILE} from a machine that has "
                "it"
            ) from None
        try:
            import subprocess

            # The JVM's start-up chatter (log4j, hostname warnings) is not ours to print.
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            _gateway = launch_gateway(popen_kwargs=quiet)
        except Exception as error:  # no Java, or a JVM that does not start
            raise SqlParseError(
                f"the query's tables come from Spark's SQL parser, whose JVM did not start "
                f"({error}); install Java 17, or commit {CACHE_FILE} from a machine that has it"
            ) from None
    return _gateway.jvm


def _parse(sql: str) -> list[str]:
    """Parse on the JVM; walk the plan, its inner plans (CTEs) and subquery expressions."""
    jvm = _jvm()
    # A Scala object: its instance is the static MODULE$ of class `CatalystSqlParser$`.
    parser = getattr(
        getattr(jvm.org.apache.spark.sql.catalyst.parser, "CatalystSqlParser$"), "MODULE$"
    )
    try:
        plan = parser.parsePlan(sql)
    except Exception as error:
        java = getattr(error, "java_exception", None)
        text = str(java.getMessage() if java is not None else error)
        message = next((line for line in text.splitlines() if line.strip()), text)
        raise SqlParseError(f"the query does not parse: {message}") from None
    _refuse_statements(jvm, plan)
    relation = "org.apache.spark.sql.catalyst.analysis.UnresolvedRelation"
    with_clause = "org.apache.spark.sql.catalyst.plans.logical.UnresolvedWith"
    subquery = jvm.java.lang.Class.forName(
        "org.apache.spark.sql.catalyst.expressions.SubqueryExpression"
    )
    found: list[str] = []
    defined: set[str] = set()

    def seq(scala_seq: Any) -> list[Any]:
        iterator = scala_seq.iterator()
        items = []
        while iterator.hasNext():
            items.append(iterator.next())
        return items

    def visit_expression(expression: Any) -> None:
        if subquery.isInstance(expression):
            visit_plan(expression.plan())
        for child in seq(expression.children()):
            visit_expression(child)

    def visit_plan(node: Any) -> None:
        kind = node.getClass().getName()
        if kind == relation:
            name = ".".join(seq(node.multipartIdentifier()))
            if node.isStreaming():
                raise SqlParseError(
                    f"STREAM({name}): a sql table reads its inputs whole (it is a "
                    "materialized view); streaming reads need a builder table_source"
                )
            if name not in found:
                found.append(name)
            return
        if kind == with_clause:
            for pair in seq(node.cteRelations()):
                defined.add(pair._1().lower())
        for inner in seq(node.innerChildren()):
            visit_plan(inner)
        for child in seq(node.children()):
            visit_plan(child)
        for expression in seq(node.expressions()):
            visit_expression(expression)

    visit_plan(plan)
    return [name for name in found if name.lower() not in defined]


def _refuse_statements(jvm: Any, plan: Any) -> None:
    """A table's query must be a query: a command (`DROP TABLE`, `CREATE`, `SET`...) or an
    `INSERT` would run for its side effect, and give the table no rows."""
    logical = "org.apache.spark.sql.catalyst.plans.logical."
    kinds = [f"{logical}Command", f"{logical}InsertIntoStatement"]
    for kind in kinds:
        if jvm.java.lang.Class.forName(kind).isInstance(plan):
            name = plan.getClass().getSimpleName()
            raise SqlParseError(
                f"the query is a statement ({name}), not a query: a sql table's text is a "
                "SELECT (or WITH ... SELECT, VALUES) whose rows the table holds"
            )
