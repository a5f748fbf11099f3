"""Row counts of a local run's tables, kept between updates while a table's files are unchanged.

Each update reports every table's rows before and after it, and counting means reading every
file of the table: on a rerun most tables did not change (a stream with no new files writes
nothing), and the previous update's count of the same files is the same number. A table's
files are fingerprinted (path, size and modification time of each file under its folder,
including the file sink's commit log), and a count is reused only for the same fingerprint:
any write, compaction or full refresh changes it, and the table is counted again.

A table whose folder is not where the warehouse keeps it (a `path` setting, a `--remote`
server on another machine) has no fingerprint and is always counted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

COUNTS_FILE = "_table_counts.json"


@dataclass(frozen=True)
class TableCount:
    """What one count of a table found, and the files it counted."""

    fingerprint: str
    rows: int
    rescued: int


def folder_fingerprint(folder: Path) -> str | None:
    """A digest of every file under `folder` (relative path, size, mtime); None without one."""
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for directory, subdirectories, files in os.walk(folder):
        subdirectories.sort()
        for name in sorted(files):
            path = Path(directory, name)
            try:
                stat = path.stat()
            except OSError:
                return None  # a file went away while listing: count the table instead
            relative = path.relative_to(folder).as_posix()
            digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class CountCache:
    """The counts of the previous updates, in `<storage>/_table_counts.json`."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.counts: dict[str, TableCount] = {}
        if file is not None and file.is_file():
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                saved = json.loads(file.read_text())
                self.counts = {table: TableCount(**entry) for table, entry in saved.items()}

    def get(self, table: str, fingerprint: str | None) -> TableCount | None:
        """The kept count of `table` when its files are those it counted."""
        kept = self.counts.get(table)
        if fingerprint is None or kept is None or kept.fingerprint != fingerprint:
            return None
        return kept

    def put(self, table: str, count: TableCount) -> None:
        self.counts[table] = count

    def save(self) -> None:
        """Write the counts (a temporary file renamed over the old one: never half-written)."""
        if self.file is None:
            return
        with contextlib.suppress(OSError):
            self.file.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.file.with_suffix(".tmp")
            payload = {table: vars(count) for table, count in sorted(self.counts.items())}
            temporary.write_text(json.dumps(payload, indent=1))
            temporary.replace(self.file)
