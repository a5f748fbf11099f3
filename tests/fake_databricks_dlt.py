"""A stand-in for the `dlt` module of a Databricks DLT pipeline, for tests only.

The DLT runtime cannot exist here, so this module plays it: each function has the parameters
of `databricks-dlt`'s (PyPI, Databricks' own stub of the module; `test_laktory_databricks_dlt_run`
asserts it with `inspect.signature`), records what the notebooks define, and `run` then executes
every dataset on the real local SparkSession, in batch, each after the datasets it reads (its
query's `read` / `read_stream` calls materialise them first), as a triggered DLT update would.
Expectations act as DLT documents them ("Manage data quality with pipeline expectations"):
`expect` keeps failing rows and counts them, `expect_or_drop` removes them, `expect_or_fail`
stops the update.

No `name` attribute (the shim would take it for one of its own backends) and none of the
shim's own extensions (`get_df`, `display`, `appends_defined`, `read_stream_with_watermark`):
the shim must work with what Databricks' module has.

Deliberately without `from __future__ import annotations`: the parameters are compared with
the stub's, annotations aside, and kept readable as plain Python.
"""

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

Query = Callable[[], DataFrame]
Rule = tuple[str, str, str]  # (name, condition, WARN | DROP | FAIL)


class ExpectationFailed(RuntimeError):
    """An `expect_or_fail` rule failed: DLT stops the update."""


@dataclass
class Dataset:
    """A table, view or streaming table the notebooks defined."""

    name: str
    kind: str  # table | view | streaming_table
    query: Query | None = None
    rules: list[Rule] = field(default_factory=list)
    flows: list[tuple[str, Query]] = field(default_factory=list)


_RULES_ATTRIBUTE = "_fake_dlt_rules"


def _with_rules(rules: list[Rule]) -> Callable[[Query], Query]:
    def decorate(function: Query) -> Query:
        setattr(function, _RULES_ATTRIBUTE, [*getattr(function, _RULES_ATTRIBUTE, []), *rules])
        return function

    return decorate


class FakeDlt(types.ModuleType):
    """The module object installed as `sys.modules['dlt']`."""

    def __init__(self, spark: SparkSession) -> None:
        super().__init__("dlt")
        self._spark = spark
        self.datasets: dict[str, Dataset] = {}
        self.outputs: dict[str, DataFrame] = {}
        self.executed: list[str] = []
        self.warned: dict[str, int] = {}
        self._running: list[str] = []

    # Definitions -----------------------------------------------------------------------------

    def _define(self, kind: str, query_function: Any, name: Any) -> Any:
        def register(function: Query) -> Query:
            dataset_name = name or function.__name__
            if dataset_name in self.datasets:
                raise ValueError(f"dataset {dataset_name} is defined twice")
            rules = list(getattr(function, _RULES_ATTRIBUTE, []))
            self.datasets[dataset_name] = Dataset(dataset_name, kind, function, rules)
            return function

        return register(query_function) if query_function is not None else register

    def table(
        self,
        query_function=None,
        name=None,
        comment=None,
        spark_conf=None,
        table_properties=None,
        partition_cols=None,
        path=None,
        schema=None,
        temporary=False,
        cluster_by=None,
    ):
        return self._define("table", query_function, name)

    def view(self, query_function=None, name=None, comment=None, spark_conf=None):
        return self._define("view", query_function, name)

    def expect(self, name, inv):
        return _with_rules([(name, inv, "WARN")])

    def expect_or_drop(self, name, inv):
        return _with_rules([(name, inv, "DROP")])

    def expect_or_fail(self, name, inv):
        return _with_rules([(name, inv, "FAIL")])

    def expect_all(self, expectations):
        return _with_rules([(k, v, "WARN") for k, v in expectations.items()])

    def expect_all_or_drop(self, expectations):
        return _with_rules([(k, v, "DROP") for k, v in expectations.items()])

    def expect_all_or_fail(self, expectations):
        return _with_rules([(k, v, "FAIL") for k, v in expectations.items()])

    def create_streaming_table(
        self,
        name,
        comment=None,
        spark_conf=None,
        table_properties=None,
        partition_cols=None,
        path=None,
        schema=None,
        expect_all=None,
        expect_all_or_drop=None,
        expect_all_or_fail=None,
        cluster_by=None,
    ):
        rules = [
            *((k, v, "WARN") for k, v in (expect_all or {}).items()),
            *((k, v, "DROP") for k, v in (expect_all_or_drop or {}).items()),
            *((k, v, "FAIL") for k, v in (expect_all_or_fail or {}).items()),
        ]
        self.datasets[name] = Dataset(name, "streaming_table", rules=rules)

    def append_flow(self, name=None, target=None, comment=None, spark_conf=None, once=False):
        def register(function: Query) -> None:
            self.datasets[target].flows.append((name or function.__name__, function))

        return register

    def read(self, name):
        return self._output(name)

    def read_stream(self, name):
        return self._output(name)  # batch: a triggered update reads what there is

    # Execution -------------------------------------------------------------------------------

    def run(self) -> dict[str, DataFrame]:
        """Execute every dataset once, each after those it reads; their outputs by name."""
        for name in self.datasets:
            self._output(name)
        return self.outputs

    def _output(self, name: str) -> DataFrame:
        if name in self.outputs:
            return self.outputs[name]
        if name not in self.datasets:
            raise KeyError(f"no dataset {name} in the pipeline; defined: {sorted(self.datasets)}")
        if name in self._running:
            raise RuntimeError(f"datasets read each other: {' -> '.join([*self._running, name])}")
        self._running.append(name)
        try:
            dataset = self.datasets[name]
            if dataset.query is not None:
                frame = dataset.query()
            else:
                frames = [flow() for _, flow in dataset.flows]
                frame = frames[0]
                for other in frames[1:]:
                    frame = frame.unionByName(other, allowMissingColumns=True)
            frame = self._checked(name, frame, dataset.rules)
            # Executed now, on the local session: later reads see computed rows.
            self.outputs[name] = frame.localCheckpoint(eager=True)
            self.executed.append(name)
            return self.outputs[name]
        finally:
            self._running.pop()

    def _checked(self, name: str, frame: DataFrame, rules: list[Rule]) -> DataFrame:
        for rule, condition, action in rules:
            failing = frame.where(~F.coalesce(F.expr(condition), F.lit(False)))
            if action == "WARN":
                self.warned[f"{name}.{rule}"] = failing.count()
            elif action == "FAIL" and failing.limit(1).count():
                raise ExpectationFailed(f"{name}: expectation {rule} failed")
        drops = [condition for _, condition, action in rules if action == "DROP"]
        for condition in drops:
            frame = frame.where(F.coalesce(F.expr(condition), F.lit(False)))
        return frame
