"""The Databricks backend of `runtime/dlt.py` checked against `databricks-dlt`, Databricks' own
stub of the `dlt` module (PyPI; the same interface a DLT pipeline's `dlt` has).

With `LAKTORY_DLT_BACKEND=databricks` the shim imports that module. Its functions check nothing
and return decorators that never call the query function, so `define_table` runs here, without
Spark or a workspace, for every kind of table (plain with expectations, quarantine, CDC, append
flows); every call reaching the module is bound to the stub's own signature
(`inspect.signature(...).bind`: every keyword we pass is one of its parameters). A static pass
over `runtime/dlt.py` then checks that each function the shim calls on the backend exists in the
stub, unless the shim guards it with `hasattr` (our own extensions for SDP and debugging).
The query functions themselves (a UDF, a transform) execute against a `dlt` with the stub's
signatures in `test_laktory_databricks_dlt_run.py`.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime import dlt as shim

databricks_dlt = pytest.importorskip("dlt", reason="databricks-dlt is in the dev extra")

PIPELINE = """\
name: pl-dbx
udfs:
  - {module_name: quote_functions, function_name: spread}
tables:
  - name: brz_quotes
    builder:
      layer: BRONZE
      event_sources:
        - {name: quote, producer: {name: venue_a}}
        - {name: quote, producer: {name: venue_b}}
    expectations:
      - {name: has_symbol, expression: "symbol IS NOT NULL", action: WARN}
      - {name: has_price, expression: "high IS NOT NULL", action: DROP}
      - {name: sane, expression: "high < 1e9", action: FAIL}
  - name: slv_quotes
    builder:
      layer: SILVER
      table_source: {name: brz_quotes}
    transform: {module_name: quote_transforms, function_name: with_band}
    quarantine: true
    expectations:
      - {name: positive_spread, expression: "spread > 0", action: DROP}
      - {name: has_band, expression: "band IS NOT NULL", action: WARN}
      - {name: finite, expression: "spread < 1e9", action: FAIL}
    columns:
      - {name: spread, type: double, spark_func_name: spread, spark_func_args: [high, low]}
  - name: slv_quotes_latest
    builder:
      layer: SILVER
      table_source:
        name: brz_quotes
        cdc: {primary_keys: [symbol], sequence_by: at, scd_type: 2, except_columns: [op]}
"""


class SignatureChecked:
    """The stub module, every call bound to the stub's own signature and recorded."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._module, name)
        if not callable(real):
            return real

        def checked(*args: Any, **kwargs: Any) -> Any:
            bound = inspect.signature(real).bind(*args, **kwargs)  # TypeError if incompatible
            self.calls.append((name, dict(bound.arguments)))
            return real(*args, **kwargs)

        return checked


@pytest.fixture
def databricks(monkeypatch: pytest.MonkeyPatch) -> Iterator[SignatureChecked]:
    monkeypatch.setenv(shim.BACKEND_ENV, "databricks")
    shim.use_backend(None)
    chosen = shim.backend()  # the code path of a DLT pipeline: `import dlt`
    assert chosen is databricks_dlt
    assert shim.backend_name() == "databricks"
    databricks_dlt.enable_local_execution()  # the stub raises otherwise
    checked = SignatureChecked(chosen)
    shim._backend = checked
    try:
        yield checked
    finally:
        shim.use_backend(None)


@pytest.mark.filterwarnings("ignore:This is a stub")
def test_every_kind_of_table_defines_with_calls_databricks_dlt_accepts(
    databricks: SignatureChecked,
) -> None:
    from laktory_pulumi.runtime.tables import define_table

    pipeline = Pipeline.model_validate(yaml.safe_load(PIPELINE))
    for table in pipeline.tables:
        define_table(table, spark=None)  # type: ignore[arg-type]  # query functions never run
    # What the query functions call when DLT runs them.
    shim.read("brz_quotes")
    shim.read_stream("brz_quotes")

    called = [name for name, _ in databricks.calls]
    assert {
        "table",
        "view",
        "expect_all",
        "expect_all_or_drop",
        "expect_all_or_fail",
        "create_streaming_table",
        "append_flow",
        "apply_changes",
        "read",
        "read_stream",
    } <= set(called)
    arguments = {name: args for name, args in databricks.calls}
    streaming = [args for name, args in databricks.calls if name == "create_streaming_table"]
    # The appended table declares its expectations where DLT takes them.
    assert streaming[0] == {
        "name": "brz_quotes",
        "comment": None,
        "expect_all": {"has_symbol": "symbol IS NOT NULL"},
        "expect_all_or_drop": {"has_price": "high IS NOT NULL"},
        "expect_all_or_fail": {"sane": "high < 1e9"},
    }
    flows = [args for name, args in databricks.calls if name == "append_flow"]
    assert flows == [
        {"target": "brz_quotes", "name": "brz_quotes__events_venue_a_quote"},
        {"target": "brz_quotes", "name": "brz_quotes__events_venue_b_quote"},
    ]
    assert arguments["apply_changes"]["stored_as_scd_type"] == 2
    assert arguments["apply_changes"]["except_column_list"] == ["op"]
    tables = [args["name"] for name, args in databricks.calls if name == "table"]
    assert tables == ["slv_quotes", "slv_quotes_quarantine"]


def _backend_calls(source: str) -> tuple[set[str], set[str]]:
    """Functions `runtime/dlt.py` calls on the backend, and those it guards with `hasattr`."""
    tree = ast.parse(source)
    called: set[str] = set()
    guarded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            is_backend = isinstance(owner, ast.Call) and getattr(owner.func, "id", "") == "backend"
            if is_backend or (isinstance(owner, ast.Name) and owner.id == "chosen"):
                called.add(node.func.attr)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "hasattr":
            guarded.add(node.args[1].value)  # type: ignore[attr-defined]
    return called, guarded


RUNTIME_ONLY = {"create_sink"}
"""In the `dlt` module of Databricks' runtime, not in the databricks-dlt stubs (0.2.1, 0.3.0):
`dlt.create_sink(name, format, options)` ("create_sink", https://docs.databricks.com/aws/en/
dlt-ref/dlt-python-ref-sink). `test_streams_databricks_dlt.py` binds its calls to the same
signature in pyspark's `pipelines.api`, which the page documents as the same function."""


def test_every_backend_call_of_the_shim_exists_in_databricks_dlt() -> None:
    called, guarded = _backend_calls(Path(inspect.getfile(shim)).read_text())
    assert {"table", "append_flow", "apply_changes", "create_streaming_table"} <= called
    unchecked = called - guarded - RUNTIME_ONLY
    missing = sorted(name for name in unchecked if not hasattr(databricks_dlt, name))
    assert missing == [], f"not in databricks-dlt: {missing}"
    # Our extensions exist only on our own backends, and the shim falls back without them.
    assert not any(hasattr(databricks_dlt, name) for name in guarded)
