"""A table defined by a SQL query over other tables of the pipeline (`sql:`).

The tables the query reads (`Table.sql_inputs`) came from Spark's own parser when the project
was loaded (`models.sql_inputs`). On Databricks the query runs as written: inside a DLT
pipeline, `spark.sql` resolves the pipeline's own datasets by name (Databricks docs, "Load data
with DLT": a query function may read other datasets with `spark.read.table` or `spark.sql`).
Elsewhere, each input of the pipeline is read with `dlt.read` (which, under SDP, reads through
the pipeline's reading views, see `dlt_sdp`) and bound to its name by a `WITH` clause around
the query, passed as DataFrame parameters of `spark.sql`: the query's own text is not
rewritten.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import dlt

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..models import Table


def read_sql(table: Table, spark: SparkSession) -> DataFrame:
    """The rows of `table`'s query."""
    assert table.sql is not None
    if dlt.backend_name() == "databricks":
        return spark.sql(table.sql)
    names = {t.name for t in table.pipeline.tables}
    inputs = [name for name in table.sql_inputs or [] if name in names]
    if not inputs:
        return spark.sql(table.sql)
    frames = {f"laktory_input_{index}": dlt.read(name) for index, name in enumerate(inputs)}
    bindings = ", ".join(
        f"`{name}` AS (SELECT * FROM {{{key}}})" for key, name in zip(frames, inputs, strict=True)
    )
    # `spark.sql` formats `{key}` fields: the query's own braces are escaped, not interpreted.
    query = table.sql.strip().rstrip(";").replace("{", "{{").replace("}", "}}")
    # The closing parenthesis on a line of its own: a query ending with a `-- comment` would
    # otherwise comment it out.
    return spark.sql(f"WITH {bindings} SELECT * FROM ({query}\n)", **frames)
