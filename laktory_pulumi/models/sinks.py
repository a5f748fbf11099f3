"""A pipeline's sinks: a table's rows published outside the pipeline as they are appended.

On Databricks a sink is DLT's `create_sink(name, format, options)` fed by an append flow
reading its table as a stream ("create_sink", https://docs.databricks.com/aws/en/dlt-ref/
dlt-python-ref-sink: formats `kafka` and `delta`, options as string pairs, "append flow is the
only flow type supported with the create_sink() function"). DLT-META's `bronze_sink` /
`silver_sink` (its `src/pipeline_writers.py`, `DLTSinkWriter`) are the same call, with a
`select_exp` and a `where_clause` on the stream: `select` and `where` here.

A `foreach_batch` sink is DLT's `@dp.foreach_batch_sink(name=...)` decorating a function of
the project, `handler(df, batch_id)`, called once per micro-batch of the same append flow
("foreach_batch_sink", https://docs.databricks.com/gcp/en/ldp/developer/
ldp-python-ref-foreach-batch-sink, Public Preview). It takes no options: what it writes is the
handler's business.

Locally there is no Kafka broker and no Delta writer: a sink writes files (`local_format`)
into the state folder, `sinks/<name>/`, through a checkpointed streaming write (SDP's own
`create_sink`), so every row reaches it once across a kill and a rerun. pyspark 4.3's SDP has
no `foreach_batch_sink`: a local run streams the table into the handler after the update
(`local.foreach_batch`).

The rules no single field can check (the table exists and is append-only, secrets) are in
`sink_rules`, each at the line of the field to blame.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from .base import Model
from .udf import FunctionRef

if TYPE_CHECKING:
    from .pipeline import Pipeline

Path = tuple[str | int, ...]

SINK_FORMATS = ("kafka", "delta")
"""What DLT's `create_sink` writes (its `format` parameter)."""

FOREACH_BATCH = "foreach_batch"
"""The format of a sink that is DLT's `foreach_batch_sink`: a function of the project."""

LOCAL_FORMATS = ("parquet", "json", "csv")
"""What a local run writes a sink's rows as: file formats Spark's file sink writes here."""

SECRET_OPTION = re.compile(r"password|secret|token|jaas|sas|credential|api[._-]?key", re.I)
"""Option keys whose value is a credential: it must come from a secret scope."""

SECRET_REFERENCE = re.compile(r"\{\{secrets/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\}\}")
"""Databricks' `{{secrets/scope/key}}`, what `${secret.SCOPE/KEY}` becomes when loaded."""


class BatchHandler(FunctionRef):
    """A function `handler(df, batch_id)` of the project, called once per micro-batch.

    `df` holds the batch's rows (the sink's `where` and `select` applied), `batch_id` is the
    micro-batch's number, 0 at the first batch and again after a full refresh. Spark commits a
    batch after the handler returns, so a batch cut by a failure is handed over again with the
    same `batch_id`: the handler must be idempotent per `batch_id` for the rows to land once.
    """


class Sink(Model):
    """A table's rows published outside the pipeline (DLT's `create_sink`, or its
    `foreach_batch_sink` with a function of the project, and an append flow)."""

    name: str = Field(
        description="Name of the sink, unique among the pipeline's sinks and datasets; its "
        "append flow is `<name>_flow` (DLT-META's naming).",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
    )
    table: str = Field(
        description="The table of this pipeline whose rows the sink publishes, read as a "
        "stream: it must be append-only (a streaming table)."
    )
    format: Literal["kafka", "delta", "foreach_batch"] = Field(
        description="`kafka` (a topic; Event Hubs through its Kafka endpoint) or `delta` (an "
        "external Delta table: option `path`, or `tableName` with its full name), DLT's "
        "`create_sink` formats; or `foreach_batch`, DLT's `foreach_batch_sink`: the project "
        "function `function` called with each micro-batch (no options)."
    )
    function: BatchHandler | None = Field(
        default=None,
        description="A `foreach_batch` sink's handler: a function of the project's modules "
        "called `handler(df, batch_id)` once per micro-batch, on Databricks and in local runs. "
        "Make it idempotent per `batch_id` (overwrite what that batch wrote): a batch cut by a "
        "failure is handed over again with the same id. Only with `format: foreach_batch`.",
    )
    options: dict[str, str] = Field(
        default_factory=dict,
        description="Options of the sink's writer, as DLT's `create_sink` takes them (e.g. "
        "`kafka.bootstrap.servers` and `topic`, or `path`). A credential (a key naming a "
        "password, secret, token, SAS or JAAS config) is written `${secret.SCOPE/KEY}`, alone "
        "or inside the value's text; the notebook reads it from the secret scope at run time.",
    )
    select: list[str] | None = Field(
        default=None,
        description="SQL expressions of the published columns (DLT-META's `select_exp`). A "
        "`kafka` sink without it publishes `to_json(struct(*)) AS value`.",
    )
    where: str | None = Field(
        default=None, description="SQL condition of the rows published (DLT-META's `where_clause`)."
    )
    local_format: Literal["parquet", "json", "csv"] | None = Field(
        default=None,
        description="What a local run writes the sink's rows as, under the state folder's "
        "`sinks/<name>/`: `parquet` (default for `delta`) or `json` (default for `kafka`), or "
        "`csv`. Files only: no broker, no Delta writer runs locally. Not for `foreach_batch`, "
        "whose handler is called locally too.",
    )

    @field_validator("format", mode="before")
    @classmethod
    def _known_format(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        lowered = value.lower()
        if lowered not in (*SINK_FORMATS, FOREACH_BATCH):
            raise ValueError(
                f"sink format '{value}' is not one DLT's create_sink writes; use "
                f"{' or '.join(SINK_FORMATS)} (locally, local_format picks the files written), "
                f"or {FOREACH_BATCH} with a function of the project"
            )
        return lowered

    @property
    def flow_name(self) -> str:
        """The append flow feeding the sink."""
        return f"{self.name}_flow"

    @property
    def written_locally_as(self) -> str:
        """The file format of the local stand-in."""
        return self.local_format or ("json" if self.format == "kafka" else "parquet")

    @property
    def selected(self) -> list[str] | None:
        """The published columns' expressions (a Kafka sink's default: the row as JSON)."""
        if self.select is None and self.format == "kafka":
            return ["to_json(struct(*)) AS value"]
        return self.select


def sink_rules(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Each sink reads an append-only table of the pipeline, names no dataset, and carries no
    credential in clear."""
    from .rules import _appends_only, _why_not_appended

    tables = {table.name: table for table in pipeline.tables}
    datasets = {name.casefold() for name in tables}
    for table in pipeline.tables:
        datasets.update(name.casefold() for name, _, _ in table.generated_datasets)
    problems: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for index, sink in enumerate(pipeline.sinks):
        path: Path = ("sinks", index)
        for name in (sink.name, sink.flow_name):
            if name.casefold() in datasets or name.casefold() in seen:
                problems.append(((*path, "name"), f"'{name}' already names a dataset or sink"))
        seen.update({sink.name.casefold(), sink.flow_name.casefold()})
        table = tables.get(sink.table)
        if table is None:
            close = difflib.get_close_matches(sink.table, list(tables), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(((*path, "table"), f"no table '{sink.table}' in this pipeline{hint}"))
        elif not _appends_only(table):
            problems.append(
                (
                    (*path, "table"),
                    f"a sink streams its table, and {sink.table} is not append-only "
                    f"({_why_not_appended(table)}); DLT feeds a sink with an append flow only",
                )
            )
        for key, value in sink.options.items():
            if SECRET_OPTION.search(key) and not SECRET_REFERENCE.search(value):
                problems.append(
                    (
                        (*path, "options", key),
                        f"option '{key}' holds a credential in clear; write it "
                        "${secret.SCOPE/KEY}, read from the secret scope at run time",
                    )
                )
        if sink.format == FOREACH_BATCH:
            problems += _foreach_batch_problems(sink, path)
        elif sink.function is not None:
            problems.append(
                (
                    (*path, "function"),
                    f"function is the handler of a {FOREACH_BATCH} sink; a {sink.format} sink "
                    "writes with its options",
                )
            )
        if sink.format == "delta" and not ({"path", "tableName"} & set(sink.options)):
            problems.append(
                ((*path, "options"), "a delta sink needs option path or tableName (full name)")
            )
        if sink.format == "kafka" and "kafka.bootstrap.servers" not in sink.options:
            problems.append(
                ((*path, "options"), "a kafka sink needs option kafka.bootstrap.servers")
            )
    return problems


def _foreach_batch_problems(sink: Sink, path: Path) -> list[tuple[Path, str]]:
    """A foreach_batch sink names its handler, and takes none of create_sink's settings."""
    problems: list[tuple[Path, str]] = []
    if sink.function is None:
        problems.append(
            (
                (*path, "format"),
                f"a {FOREACH_BATCH} sink needs function: {{module_name, function_name}}, the "
                "project's handler(df, batch_id) called with each micro-batch",
            )
        )
    if sink.options:
        problems.append(
            (
                (*path, "options"),
                f"a {FOREACH_BATCH} sink takes no options (DLT's foreach_batch_sink takes a "
                "name and the handler); the handler writes where it wants",
            )
        )
    if sink.local_format is not None:
        problems.append(
            (
                (*path, "local_format"),
                f"a {FOREACH_BATCH} sink writes no files locally: its handler is called with "
                "each micro-batch there too",
            )
        )
    return problems
