"""What a Databricks notebook may use that SDP's import of a Python file does not give it.

Notebooks written for DLT (Laktory v0.0.22's, the design document's) call `display(df)` as a
global, and some set a Spark conf at the top (`spark.conf.set("spark.sql.session.timeZone",
"UTC")`). pyspark's `register_definitions` gives each file `spark` only, and runs it inside
`block_session_mutations`, which makes `RuntimeConf.set` raise. A Lakeflow pipeline applies a
Python file's `spark.conf.set` to the datasets the file defines after it; here the call is
recorded (`dlt_sdp.NOTEBOOK_CONF`) and the SDP backend passes it as each later dataset's
`spark_conf`, which SDP applies when the flow runs.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyspark.pipelines import cli
from pyspark.sql.connect.conf import RuntimeConf

from ..runtime import dlt, dlt_sdp


def install() -> None:
    """Give notebooks Databricks' `display` global and DLT's meaning of `spark.conf.set`."""
    if not hasattr(builtins, "display"):
        builtins.display = dlt.display  # type: ignore[attr-defined]
    blocking = cli.block_session_mutations
    if getattr(blocking, "records_conf", False):
        return

    @contextmanager
    def blocking_but_conf() -> Iterator[None]:
        dlt_sdp.NOTEBOOK_CONF.clear()  # a file's confs apply to that file's datasets
        with blocking():
            refused = RuntimeConf.set

            def record(self: RuntimeConf, key: str, value: Any) -> None:
                dlt_sdp.NOTEBOOK_CONF[key] = (
                    str(value).lower() if value is True or value is False else str(value)
                )

            RuntimeConf.set = record  # type: ignore[method-assign]
            try:
                yield
            finally:
                RuntimeConf.set = refused  # type: ignore[method-assign]
                dlt_sdp.NOTEBOOK_CONF.clear()

    blocking_but_conf.records_conf = True  # type: ignore[attr-defined]
    cli.block_session_mutations = blocking_but_conf  # type: ignore[assignment]
