"""`window_filter`: the first rows of each group, as Laktory v0.0.22's `TableWindowFilter`.

A `row_number()` over the partition and ordering, a filter on it, then the number dropped with
`* EXCEPT`: all SQL expressions, so the plan stays lazy under Spark Connect (see docs/sdp.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ..models.windows import TableWindowFilter


def window_filter(spec: TableWindowFilter, df: DataFrame) -> DataFrame:
    """Rows numbered 1 to `rows_to_keep` in each partition, by the given order."""
    index = _quoted(spec.row_index_name)
    partition = ", ".join(_quoted(name) for name in spec.partition_by)
    order = ", ".join(
        f"{item.sql_expression} {'DESC' if item.desc else 'ASC'}" for item in spec.order_by
    )
    numbered = df.selectExpr(
        "*", f"row_number() OVER (PARTITION BY {partition} ORDER BY {order}) AS {index}"
    )
    kept = numbered.where(f"{index} <= {spec.rows_to_keep}")
    return kept.selectExpr(f"* EXCEPT ({index})") if spec.drop_row_index else kept


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
