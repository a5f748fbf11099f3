"""A table's kept row count is reused only while its files are exactly those it counted."""

from __future__ import annotations

import os
from pathlib import Path

from laktory_pulumi.local.table_counts import CountCache, TableCount, folder_fingerprint


def _table(root: Path) -> Path:
    folder = root / "finance.db" / "brz"
    (folder / "_spark_metadata").mkdir(parents=True)
    (folder / "part-0.parquet").write_bytes(b"0" * 10)
    (folder / "_spark_metadata" / "0").write_text("v1\n")
    return folder


def test_any_write_to_a_table_folder_changes_its_fingerprint(tmp_path: Path) -> None:
    folder = _table(tmp_path)
    first = folder_fingerprint(folder)
    assert first is not None and folder_fingerprint(folder) == first
    # A new batch: a data file and its commit-log entry.
    (folder / "part-1.parquet").write_bytes(b"1" * 10)
    second = folder_fingerprint(folder)
    assert second != first
    # A file rewritten with the same size (a full refresh's new file of the same name).
    stat = (folder / "part-1.parquet").stat()
    (folder / "part-1.parquet").write_bytes(b"2" * 10)
    os.utime(folder / "part-1.parquet", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert folder_fingerprint(folder) not in (first, second)
    # Only the commit log moved on (a compaction of `_spark_metadata`).
    third = folder_fingerprint(folder)
    (folder / "_spark_metadata" / "1").write_text("v1\n")
    assert folder_fingerprint(folder) != third
    assert folder_fingerprint(tmp_path / "no such table") is None


def test_a_kept_count_is_given_back_only_for_the_same_files_and_survives_a_new_process(
    tmp_path: Path,
) -> None:
    folder = _table(tmp_path)
    file = tmp_path / "storage" / "_table_counts.json"
    cache = CountCache(file)
    fingerprint = folder_fingerprint(folder)
    assert cache.get("brz", fingerprint) is None
    cache.put("brz", TableCount(fingerprint or "", rows=7012, rescued=3))
    cache.save()

    again = CountCache(file)  # the next update's driver
    assert again.get("brz", fingerprint) == TableCount(fingerprint or "", 7012, 3)
    assert again.get("brz", None) is None  # no folder here: always counted
    (folder / "part-9.parquet").write_bytes(b"9")
    assert again.get("brz", folder_fingerprint(folder)) is None
    assert again.get("slv", fingerprint) is None


def test_an_unreadable_counts_file_means_counting_again_never_a_failed_run(
    tmp_path: Path,
) -> None:
    file = tmp_path / "_table_counts.json"
    file.write_text('{"brz": {"fingerprint": "x"')  # cut short by a kill
    assert CountCache(file).counts == {}
    file.write_text('{"brz": {"rows": 1}}')  # another version's shape
    assert CountCache(file).counts == {}
    assert CountCache(None).get("brz", "x") is None
    CountCache(None).save()  # nowhere to keep it: nothing written, no error
