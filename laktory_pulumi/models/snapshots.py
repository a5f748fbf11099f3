"""A source read as a sequence of full snapshots: DLT's AUTO CDC FROM SNAPSHOT.

Daily full extracts (an ERP's, a SaaS export) carry no change flags: what changed is what
differs between one snapshot and the next. DLT derives the changes itself
(`create_auto_cdc_from_snapshot_flow`, formerly `apply_changes_from_snapshot`): a key new in a
snapshot is inserted, a key whose values differ is updated, a key missing from it is deleted
(https://learn.microsoft.com/azure/databricks/ldp/developer/ldp-python-ref-apply-changes-from-snapshot).
Each snapshot has a version, which orders them and becomes `__START_AT` / `__END_AT` in SCD 2.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import FieldError, Model

SnapshotVersion = Literal["file_name", "column", "arrival"]


class SnapshotCdc(Model):
    """Apply a sequence of full snapshots as changes (DLT's `create_auto_cdc_from_snapshot_flow`).

    The keys, SCD type and history lists mean what they mean under `cdc` (a change feed).
    """

    primary_keys: list[str] = Field(
        description="Columns identifying a row in every snapshot (DLT's `keys`).", min_length=1
    )
    scd_type: Literal[1, 2] = Field(
        default=1,
        description="1 keeps the latest snapshot's rows; 2 keeps every version of each key, "
        "`__START_AT` and `__END_AT` holding the snapshot versions that opened and closed it.",
    )
    track_history_columns: list[str] | None = Field(
        default=None,
        description="SCD type 2: only changes of these columns open a new version; changes of "
        "the others update the open version in place (DLT's `track_history_column_list`). "
        "Excludes `track_history_except_columns`.",
    )
    track_history_except_columns: list[str] | None = Field(
        default=None,
        description="SCD type 2: changes of these columns alone open no version (DLT's "
        "`track_history_except_column_list`). The layer's system columns (such as "
        "`_source_file`, `_bronze_at`), which differ in every snapshot, are never tracked.",
    )
    version: SnapshotVersion = Field(
        default="file_name",
        description="Where each snapshot's version comes from. `file_name`: the first group "
        "of `version_pattern` in the path of each landed file (event sources; the files "
        "giving one version form one snapshot). `column`: the value of `version_column` "
        "(the rows of one value form one snapshot). `arrival` (table sources): the table is "
        "read whole at each update, and each read is the next snapshot (DLT's periodic "
        "snapshot, `source` given as a table name).",
    )
    version_pattern: str | None = Field(
        default=None,
        description="With `version: file_name`: a regular expression searched in each file's "
        "path, whose first group, digits, is the version, a number: e.g. `LOAD_(\\d+)` for "
        "DLT-META's `LOAD_1.csv`, `LOAD_2.csv` (`LOAD_10` comes after `LOAD_9`), or "
        "`extract_(\\d{8})` for dated files. An update fails on a file it finds no version in, "
        "rather than leave its rows out.",
    )
    version_column: str | None = Field(
        default=None,
        description="With `version: column`: the column holding each row's snapshot version.",
    )

    @field_validator("version_pattern", mode="after")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            compiled = re.compile(value)
        except re.error as error:
            raise ValueError(f"version_pattern is not a regular expression: {error}") from None
        if compiled.groups < 1:
            raise ValueError("version_pattern needs a group, the version: e.g. LOAD_(\\d+)")
        return value

    @model_validator(mode="after")
    def _version_source_and_history(self) -> SnapshotCdc:
        """The version's settings, and the combinations DLT refuses.

        DLT's Python reference for `create_auto_cdc_from_snapshot_flow`: "Only one of
        track_history_column_list and track_history_except_column_list can be specified",
        and both are SCD type 2 arguments (the history they track is SCD 2's).
        """
        if self.version == "file_name" and self.version_pattern is None:
            raise FieldError("version_pattern", "version file_name needs a version_pattern")
        if self.version == "column" and self.version_column is None:
            raise FieldError("version_column", "version column needs a version_column")
        if self.version != "file_name" and self.version_pattern is not None:
            raise FieldError(
                "version_pattern", f"version_pattern is for version file_name, not {self.version}"
            )
        if self.version != "column" and self.version_column is not None:
            raise FieldError(
                "version_column", f"version_column is for version column, not {self.version}"
            )
        if self.track_history_columns and self.track_history_except_columns:
            raise FieldError(
                "track_history_except_columns",
                "set track_history_columns or track_history_except_columns, not both (DLT)",
            )
        for field in ("track_history_columns", "track_history_except_columns"):
            if getattr(self, field) and self.scd_type != 2:
                raise FieldError(field, f"{field} keeps history: it needs scd_type 2 (DLT)")
        return self
