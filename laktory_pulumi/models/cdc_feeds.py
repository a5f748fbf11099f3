"""Rules and names of the two change sources beyond a single `cdc` feed: several change feeds
into one table, and a source read as full snapshots.

Several feeds: each listed table source is one change flow into the table (DLT's
`create_auto_cdc_flow` with a `flow_name`, once per source, after one `create_streaming_table`),
so the target's keys and SCD type are the flows' common ones: they must agree, or one flow
would key or version the rows differently from the other. Snapshots: one
`create_auto_cdc_from_snapshot_flow` into the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .sources import EventSource, TableSource, flow_key

if TYPE_CHECKING:
    from .builder import TableBuilder
    from .pipeline import Pipeline
    from .snapshots import SnapshotCdc
    from .table import Table

Path = tuple[str | int, ...]

_AGREEING = ("primary_keys", "scd_type", "track_history_columns", "track_history_except_columns")
"""What defines the target of several change flows: each flow must say the same."""
_ONE_FEED_ONLY = {
    "apply_as_truncates": "a truncate empties the whole table, the other feeds' rows too",
    "ignore_null_updates": "the value kept would be the other feeds' as much as this one's",
}


def change_feeds(builder: TableBuilder) -> list[TableSource]:
    """The listed table sources that are change feeds (all of them, or none)."""
    listed = builder.table_sources or []
    return [source for source in listed if source.cdc is not None]


def snapshot_source(builder: TableBuilder) -> tuple[str, EventSource | TableSource] | None:
    """The builder's single source read as snapshots, with its field name; None otherwise."""
    for field in ("event_source", "table_source"):
        source = getattr(builder, field)
        if source is not None and source.snapshots is not None:
            return field, source
    return None


def snapshot_settings(builder: TableBuilder) -> SnapshotCdc | None:
    """The `snapshots` of the builder's source, if it has one."""
    found = snapshot_source(builder)
    return found[1].snapshots if found is not None else None


def feed_view_name(table: Table, source: TableSource) -> str:
    """The view holding one change feed of a table fed by several."""
    return f"{table.changes_view_name}__{flow_key(source)}"


def snapshot_view_name(table: Table) -> str:
    """The view holding a table's processed snapshot (the source DLT reads at each update)."""
    return f"{table.name}_snapshot"


def generated_views(table: Table) -> list[tuple[str, tuple[str | int, ...], str]]:
    """The views the runtime defines for these sources, as `Table.generated_datasets` lists."""
    builder = table.builder
    views: list[tuple[str, tuple[str | int, ...], str]] = []
    for index, source in enumerate(builder.table_sources or []):
        if source.cdc is not None:
            path = ("builder", "table_sources", index, "cdc")
            views.append((feed_view_name(table, source), path, "change-feed view"))
    found = snapshot_source(builder)
    if found is not None:
        path = ("builder", found[0], "snapshots")
        views.append((snapshot_view_name(table), path, "snapshot view"))
    return views


def cdc_feed_rules(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Several change feeds agree on the target; a snapshot table is a CDC target."""
    problems: list[tuple[Path, str]] = []
    for index, table in enumerate(pipeline.tables):
        here: Path = ("tables", index)
        feeds = change_feeds(table.builder)
        problems += _feeds_agree(here, table, feeds)
        if feeds and table.quarantine:
            problems.append(
                (
                    (*here, "quarantine"),
                    "quarantine takes a table of one change feed (its rows come from the one "
                    "change-feed view before apply_changes); with several feeds, quarantine each "
                    "feed's own table upstream",
                )
            )
        if feeds or snapshot_source(table.builder) is not None:
            problems += _target_rules(here, table, pipeline)
    return problems


def _feeds_agree(here: Path, table: Table, feeds: list[TableSource]) -> list[tuple[Path, str]]:
    problems: list[tuple[Path, str]] = []
    if not feeds:
        return problems
    listed = table.builder.table_sources or []
    first = feeds[0]
    assert first.cdc is not None
    for source in feeds:
        cdc = source.cdc
        assert cdc is not None
        position = listed.index(source)
        at: Path = (*here, "builder", "table_sources", position, "cdc")
        for field, reason in _ONE_FEED_ONLY.items():
            if getattr(cdc, field):
                problems.append(((*at, field), f"{field} takes a single change feed: {reason}"))
        if source is first:
            continue
        for field in _AGREEING:
            mine, theirs = getattr(cdc, field), getattr(first.cdc, field)
            if mine != theirs:
                problems.append(
                    (
                        (*at, field),
                        f"{field} {_shown(mine)} differs from the first feed's ({first.name}: "
                        f"{_shown(theirs)}): the change flows into one table share its "
                        f"{field}",
                    )
                )
    return problems


def _target_rules(here: Path, table: Table, pipeline: Pipeline) -> list[tuple[Path, str]]:
    """What a CDC target cannot have, as for a single change feed (`models.rules`); a table of
    several feeds gets no quarantine (`cdc_feed_rules`)."""
    problems: list[tuple[Path, str]] = []
    found = snapshot_source(table.builder)
    settings = found[1].snapshots if found is not None else None
    if settings is not None and settings.version == "file_name" and table.layer != "BRONZE":
        problems.append(
            (
                (*here, "builder", "event_source", "snapshots", "version"),
                "version file_name reads each row's file from _source_file, which BRONZE "
                f"tables keep (this table is {table.layer}): read the files on BRONZE",
            )
        )
    if found is not None and table.expectations:
        problems.append(
            (
                (*here, "expectations"),
                "a snapshot table takes no expectations: DLT's snapshot source gives it "
                "DataFrames, not a dataset that expectations can check; check the rows in the "
                "table it reads, or in a table reading this one",
            )
        )
    if pipeline.edition == "CORE":
        problems.append(
            (
                (*here, "builder"),
                "change flows need edition PRO or ADVANCED (this pipeline is CORE)",
            )
        )
    return problems


def _shown(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)
