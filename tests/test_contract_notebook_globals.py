"""What a DLT notebook may use in a local run: `display` and DLT's `spark.conf.set` (no Spark).

pyspark's `register_definitions` imports each library inside `block_session_mutations`, where
`RuntimeConf.set` raises SESSION_MUTATION_IN_DECLARATIVE_PIPELINE. lakehouse-as-code's gold
notebook sets the session's time zone at its top; a Lakeflow pipeline applies such a conf to the
datasets the file defines after it (learn.microsoft.com/azure/databricks/ldp/properties). The
whole run is in tests/test_contract_design_notebook.py.
"""

from __future__ import annotations

import builtins

import pytest
from pyspark.errors import PySparkException
from pyspark.pipelines import cli
from pyspark.sql.connect.conf import RuntimeConf

from laktory_pulumi.local import notebook_globals
from laktory_pulumi.runtime import dlt, dlt_sdp


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """`install()` for this test only: pyspark's context manager and builtins restored after."""
    monkeypatch.setattr(cli, "block_session_mutations", cli.block_session_mutations)
    if not hasattr(builtins, "display"):
        # Recorded as absent, so that undoing removes what `install` adds.
        monkeypatch.setattr(builtins, "display", None, raising=False)
        monkeypatch.delattr(builtins, "display")
    notebook_globals.install()


def test_a_notebooks_conf_applies_to_the_datasets_it_defines_after(installed: None) -> None:
    spark_set = RuntimeConf.set
    with cli.block_session_mutations():
        assert dlt_sdp.with_notebook_conf(None) is None
        RuntimeConf.set(None, "spark.sql.session.timeZone", "UTC")  # type: ignore[arg-type]
        RuntimeConf.set(None, "spark.sql.ansi.enabled", True)  # type: ignore[arg-type]
        assert dlt_sdp.with_notebook_conf({"spark.sql.ansi.enabled": "false"}) == {
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.ansi.enabled": "false",  # the dataset's own spark_conf wins
        }
    # The next file starts without it, and outside an import `conf.set` is Spark's own again.
    assert dlt_sdp.with_notebook_conf(None) is None
    assert RuntimeConf.set is spark_set


def test_other_session_mutations_are_still_refused(installed: None) -> None:
    from pyspark.sql.connect.catalog import Catalog

    with cli.block_session_mutations(), pytest.raises(PySparkException, match="SET_CURRENT"):
        Catalog.setCurrentDatabase(None, "other")  # type: ignore[arg-type]


def test_notebooks_have_databricks_display(installed: None) -> None:
    assert builtins.display is dlt.display  # type: ignore[attr-defined]
