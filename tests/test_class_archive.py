"""The JVM class-data archive of local engines (`local/class_archive.py`), without a JVM.

The JDK folders here are real folders holding only the `release` file the module reads; the
engine tests (test_local_engine.py) check that a real engine's JVM gets the archive options.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from laktory_pulumi.local.class_archive import (
    ARCHIVE_ENV,
    CACHE_ENV,
    class_archive,
    keep_recorded_archive,
)
from laktory_pulumi.local.engine_server import server_command, server_environment
from laktory_pulumi.local.layout import StateLayout


def _jdk(root: Path, version: str) -> Path:
    home = root / f"jdk-{version}"
    home.mkdir(parents=True)
    (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\n')
    return home


def _environment(tmp_path: Path, version: str, **more: str) -> dict[str, str]:
    return {
        "JAVA_HOME": str(_jdk(tmp_path, version)),
        CACHE_ENV: str(tmp_path / "cache"),
        **more,
    }


def test_one_archive_per_java_version_under_the_cache_folder(tmp_path: Path) -> None:
    archive = class_archive(_environment(tmp_path, "17.0.15"))
    assert archive is not None
    assert archive.folder.parent == tmp_path / "cache" / "jvm-classes"
    assert archive.folder.name.startswith("java17.0.15-")
    other = class_archive(_environment(tmp_path / "other", "21.0.2"))
    assert other is not None and other.folder != archive.folder


@pytest.mark.parametrize("version", ["11.0.22", "1.8.0_392", "12"])
def test_a_java_without_dynamic_archives_gets_none(tmp_path: Path, version: str) -> None:
    # Java 12 and older refuse -XX:ArchiveClassesAtExit at start-up.
    assert class_archive(_environment(tmp_path, version)) is None


def test_it_can_be_turned_off_and_needs_a_known_java(tmp_path: Path) -> None:
    assert class_archive(_environment(tmp_path, "17.0.15", **{ARCHIVE_ENV: "0"})) is None
    no_release = tmp_path / "bare-jdk"
    no_release.mkdir()
    assert class_archive({"JAVA_HOME": str(no_release)}) is None
    assert class_archive({"PATH": str(tmp_path / "no-java-here")}) is None


def test_the_first_jvm_records_and_later_ones_map_the_archive(tmp_path: Path) -> None:
    archive = class_archive(_environment(tmp_path, "17.0.15"))
    assert archive is not None
    archive.prepare()
    recording = archive.java_options(recorder_pid=4242)
    assert recording[0] == f"-XX:ArchiveClassesAtExit={archive.partial_file(4242)}"
    assert archive.java_options(recorder_pid=None) == []

    archive.partial_file(4242).write_bytes(b"archive")
    assert keep_recorded_archive(archive, 4242, exit_code=143)  # exited on SIGTERM
    assert archive.file.read_bytes() == b"archive"
    assert not archive.partial_file(4242).exists()
    assert archive.java_options(recorder_pid=None)[0] == f"-XX:SharedArchiveFile={archive.file}"


@pytest.mark.parametrize("exit_code", [-9, None])
def test_a_jvm_killed_while_recording_leaves_no_archive(tmp_path: Path, exit_code: int) -> None:
    archive = class_archive(_environment(tmp_path, "17.0.15"))
    assert archive is not None
    archive.prepare()
    archive.partial_file(7).write_bytes(b"half an archive")
    assert not keep_recorded_archive(archive, 7, exit_code=exit_code)
    assert not archive.file.exists() and not archive.partial_file(7).exists()


def test_partial_files_of_gone_recorders_are_removed(tmp_path: Path) -> None:
    archive = class_archive(_environment(tmp_path, "17.0.15"))
    assert archive is not None
    archive.prepare()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    archive.partial_file(gone.pid).write_bytes(b"left by a killed supervisor")
    archive.partial_file(os.getpid()).write_bytes(b"still being written")
    archive.prepare()
    assert not archive.partial_file(gone.pid).exists()
    assert archive.partial_file(os.getpid()).exists()


def test_the_server_jvm_reads_its_state_config_beside_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = StateLayout.at(tmp_path / "state")
    command = server_command(layout, 15002)
    at = command.index("--properties-file")
    assert command[at + 1] == str(layout.spark_conf_dir / "spark-defaults.conf")

    monkeypatch.setenv("SPARK_SUBMIT_OPTS", "-Dmine=1")
    archive = class_archive(_environment(tmp_path, "17.0.15"))
    assert archive is not None
    environment = server_environment(layout, archive, recorder_pid=99)
    # The class path's first folder must be the archive's empty one; logging is named directly.
    assert environment["SPARK_CONF_DIR"] == str(archive.conf_dir)
    assert archive.conf_dir.is_dir() and not any(archive.conf_dir.iterdir())
    options = environment["SPARK_SUBMIT_OPTS"].split()
    assert options[0] == "-Dmine=1"
    log_config = (layout.spark_conf_dir / "log4j2.properties").as_uri()
    assert f"-Dlog4j2.configurationFile={log_config}" in options
    assert f"-XX:ArchiveClassesAtExit={archive.partial_file(99)}" in options

    # Without an archive the JVM reads the state folder's conf folder, as spark-pipelines does.
    monkeypatch.setenv("SPARK_CONF_DIR", str(layout.spark_conf_dir))
    plain = server_environment(layout, None, recorder_pid=99)
    assert plain["SPARK_CONF_DIR"] == str(layout.spark_conf_dir)
    assert plain["SPARK_SUBMIT_OPTS"] == "-Dmine=1"


def test_an_unwritable_cache_folder_starts_the_jvm_without_the_archive(tmp_path: Path) -> None:
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("not a folder")
    environment = _environment(tmp_path, "17.0.15", **{CACHE_ENV: str(blocker)})
    archive = class_archive(environment)
    assert archive is not None
    layout = StateLayout.at(tmp_path / "state")
    started = server_environment(layout, archive, recorder_pid=5)
    assert "-XX:" not in started.get("SPARK_SUBMIT_OPTS", "")
    assert started.get("SPARK_CONF_DIR") != str(archive.conf_dir)


def test_one_jvm_records_at_a_time(tmp_path: Path) -> None:
    archive = class_archive(_environment(tmp_path, "17.0.15"))
    assert archive is not None
    archive.prepare()
    archive.partial_file(os.getpid()).write_bytes(b"being recorded by this live process")
    # Another supervisor neither records nor maps until the archive is in place.
    assert archive.java_options(recorder_pid=os.getpid() + 1) == []
    assert archive.java_options(recorder_pid=os.getpid())[0].startswith("-XX:ArchiveClassesAtExit")
