"""Expectations with DLT's semantics, for the backends that have no native ones.

WARN keeps failing rows (they are only counted), DROP filters them out, FAIL stops the update
naming the rule and the table. A rule whose condition is NULL on a row fails on that row, as in
DLT. The same functions serve the local SDP backend and the eager debug backend, so both behave
alike; on Databricks the native `dlt.expect*` decorators are used instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from ..models import Table
    from ..models.table import Expectation

Action = Literal["WARN", "DROP", "FAIL"]
F_ = TypeVar("F_", bound=Callable[..., Any])
FAILED_EXPECTATIONS_COLUMN = "_failed_expectations"
"""Column of a quarantine table: the names of the DROP rules each row failed."""


@dataclass(frozen=True)
class Rule:
    """One expectation: a SQL condition every valid row meets, and what a failure does."""

    name: str
    expression: str
    action: Action

    @property
    def failed(self) -> Column:
        """True on the rows failing the rule; NULL counts as failing."""
        from pyspark.sql import functions as F

        return ~F.coalesce(F.expr(self.expression), F.lit(False))


def rules_of(table: Table) -> list[Rule]:
    """The rules a table's YAML declares, then one DROP rule per cast that may fail when the
    table is quarantined (`casts.cast_rules`): a value that does not fit its type goes to
    quarantine with the cast that failed; and on a quarantined CDC table, the change with a
    NULL sequence (`quarantine.null_sequence_rules`)."""
    from .casts import cast_rules
    from .quarantine import null_sequence_rules

    rows = [e for e in table.expectations if not e.is_aggregate]  # aggregates: see below
    declared = [*rows, *cast_rules(table)]
    return [Rule(e.name, e.expression, e.action) for e in declared] + null_sequence_rules(table)


def by_action(rules: Sequence[Rule], action: Action) -> dict[str, str]:
    """`{name: expression}` of the rules with `action`, as `dlt.expect_all*` take them."""
    return {rule.name: rule.expression for rule in rules if rule.action == action}


def rules_from(expectations: Mapping[str, str], action: Action) -> list[Rule]:
    """Rules from a `dlt.expect_all*` mapping."""
    return [Rule(name, expression, action) for name, expression in expectations.items()]


class ExpectationFailed(RuntimeError):
    """A FAIL expectation did not hold (raised by the eager backend's checks)."""


def failure_message(rule: Rule, table: str) -> str:
    """What a FAIL rule says when a row fails it; the runner shows it as the table's reason."""
    return f"expectation {rule.name} ({rule.expression}) failed on table {table}"


def apply_rules(frame: DataFrame, table: str, rules: Sequence[Rule]) -> DataFrame:
    """The frame as DLT would write it: FAIL rules raise on a failing row, DROP rules filter.

    Both are lazy (no action runs here), so this works on streams and inside pipelines. The
    FAIL check is a filter condition rather than a projected column: Spark may prune a column
    nobody reads, but always evaluates a filter.
    """
    from pyspark.sql import functions as F

    fatal = [rule for rule in rules if rule.action == "FAIL"]
    if fatal:
        failure: Column = F.lit(None)
        for rule in reversed(fatal):
            message = F.lit(failure_message(rule, table))
            failure = F.when(rule.failed, F.raise_error(message)).otherwise(failure)
        frame = frame.where(F.coalesce(failure.cast("boolean"), F.lit(True)))
    dropping = [rule for rule in rules if rule.action == "DROP"]
    if dropping:
        frame = frame.where(_none_failed(dropping))
    return frame


def quarantine(frame: DataFrame, rules: Sequence[Rule]) -> DataFrame:
    """The rows failing at least one DROP rule, with the names of the rules they failed."""
    from pyspark.sql import functions as F

    dropping = [rule for rule in rules if rule.action == "DROP"]
    if not dropping:
        raise ValueError("a quarantine needs at least one DROP expectation")
    names = F.array_compact(F.array(*(F.when(rule.failed, F.lit(rule.name)) for rule in dropping)))
    return frame.where(~_none_failed(dropping)).withColumns({FAILED_EXPECTATIONS_COLUMN: names})


def _none_failed(rules: Sequence[Rule]) -> Column:
    from pyspark.sql import functions as F

    keep: Column = F.lit(True)
    for rule in rules:
        keep = keep & ~rule.failed
    return keep


_RULES_ATTRIBUTE = "__laktory_expectations__"


def attached_rules(function: object) -> list[Rule]:
    """The rules `expect*` decorators attached to a query function, in reading order."""
    return list(getattr(function, _RULES_ATTRIBUTE, []))


def attach_rules(expectations: Mapping[str, str], action: Action) -> Callable[[F_], F_]:
    """A decorator recording rules on a query function, as `dlt.expect_all*` do."""

    def decorate(function: F_) -> F_:
        # Decorators apply bottom-up; prepending keeps the rules in reading order.
        added = rules_from(expectations, action)
        setattr(function, _RULES_ATTRIBUTE, added + attached_rules(function))
        return function

    return decorate


class ExpectationDecorators:
    """`dlt.expect*` for the backends without native expectations: rules recorded on the
    query function, applied by the backend when it defines the dataset."""

    def expect(self, name: str, condition: str) -> Callable[[F_], F_]:
        return attach_rules({name: condition}, "WARN")

    def expect_or_drop(self, name: str, condition: str) -> Callable[[F_], F_]:
        return attach_rules({name: condition}, "DROP")

    def expect_or_fail(self, name: str, condition: str) -> Callable[[F_], F_]:
        return attach_rules({name: condition}, "FAIL")

    def expect_all(self, expectations: Mapping[str, str]) -> Callable[[F_], F_]:
        return attach_rules(expectations, "WARN")

    def expect_all_or_drop(self, expectations: Mapping[str, str]) -> Callable[[F_], F_]:
        return attach_rules(expectations, "DROP")

    def expect_all_or_fail(self, expectations: Mapping[str, str]) -> Callable[[F_], F_]:
        return attach_rules(expectations, "FAIL")


# Aggregate expectations ------------------------------------------------------------------------
#
# DLT's expectations are row conditions only. Databricks documents the way to check a whole
# dataset: a materialized view computing the aggregate, with an expectation on its one row
# (docs.databricks.com, "Expectation recommendations and advanced patterns", row count
# validation), kept out of the target schema with `temporary=True` (docs.databricks.com,
# "Publish data from Delta Live Tables to the Hive metastore", "Exclude tables from the target
# schema"). Each table with AGGREGATE rules gets one such view, `<table>_aggregate_checks`,
# recomputed at every update of the pipeline, on Databricks and locally alike: one column per
# rule, true when the rule holds, and the rule as an expectation on that column (WARN:
# `expect`, counted in the update's metrics; FAIL: `expect_or_fail`). A FAIL rule also raises
# inside the view's query, with the rule's YAML line, so that the failed update names it.


def aggregate_failure_message(expectation: Expectation, table: str) -> str:
    """What a failed AGGREGATE FAIL rule says: the rule, its table and where it is declared."""
    where = f" (declared at {expectation.defined_at})" if expectation.defined_at else ""
    return (
        f"aggregate expectation {expectation.name} ({expectation.expression}) failed on table "
        f"{table}{where}"
    )


def aggregate_checks(frame: DataFrame, table: Table) -> DataFrame:
    """One row: each AGGREGATE rule of `table` over `frame`, true when it holds (a FAIL rule
    that does not hold raises, naming its line)."""
    from pyspark.sql import functions as F

    checks = []
    for expectation in table.expectations:
        if not expectation.is_aggregate:
            continue
        holds = F.coalesce(F.expr(expectation.expression), F.lit(False))
        if expectation.action == "FAIL":
            message = F.lit(aggregate_failure_message(expectation, table.name))
            holds = F.when(holds, F.lit(True)).otherwise(F.raise_error(message).cast("boolean"))
        checks.append(holds.alias(expectation.name))
    return frame.agg(*checks)


def define_aggregate_checks(table: Table) -> Any:
    """`<table>_aggregate_checks`, when the table has AGGREGATE rules (else nothing)."""
    from . import dlt

    rules = [e for e in table.expectations if e.is_aggregate]
    if not rules:
        return None
    # The view's column of a rule is named after it; the expectation reads that column.
    warned = {e.name: f"`{e.name}`" for e in rules if e.action == "WARN"}
    fatal = {e.name: f"`{e.name}`" for e in rules if e.action == "FAIL"}

    def query() -> DataFrame:
        return aggregate_checks(dlt.read(table.name), table)

    query.__name__ = table.aggregate_checks_name
    if fatal:
        query = dlt.expect_all_or_fail(fatal)(query)
    if warned:
        query = dlt.expect_all(warned)(query)
    return dlt.table(
        name=table.aggregate_checks_name,
        comment=f"AGGREGATE expectations of {table.name}, checked at each update.",
        temporary=True,
    )(query)
