"""A class-data archive of the engine's JVM, shared by every local engine of this machine.

A cold engine spends most of its start loading and verifying Spark's, Hive's and DataNucleus'
classes: measured on 2 cores (`SparkSession` with the Hive catalog, then its first query),
8.8 s + 6.7 s without an archive against 5.6 s + 3.3 s with one. The JVM's dynamic
class-data sharing (JEP 350, Java 13 and later) keeps those classes parsed and verified in a
file: the first engine records every class it loaded when it exits
(`-XX:ArchiveClassesAtExit`), later engines map them (`-XX:SharedArchiveFile`).

The rules the JVM sets, and how they are met:

- The archive holds the class path it was made with, and is used only by a JVM whose class path
  starts the same way, with the same jar sizes and dates. `spark-submit` puts `SPARK_CONF_DIR`
  first, and a non-empty folder on the class path refuses the dump (`Error: non-empty
  directory`). So the engine's JVM gets an empty folder kept here as its `SPARK_CONF_DIR`, and
  reads the state folder's `spark-defaults.conf` with `--properties-file` and its logging
  setup with `-Dlog4j2.configurationFile`.
- The archive is tied to one Java build; pyspark's jars, Java home and version name the
  folder, so another Java or pyspark makes its own.
- A JVM that cannot use an archive (another Java, a corrupt file) starts without it, with a
  warning in the engine's log; only Java 12 and older refuse the option, and get none.
- The file is written while the JVM exits: a JVM killed during the dump leaves a partial file,
  which is never renamed into place (`keep_recorded_archive`).

`LAKTORY_JVM_CLASS_ARCHIVE=0` turns it off; `LAKTORY_CACHE_DIR` moves the cache (default
`$XDG_CACHE_HOME/laktory-pulumi`, else `~/.cache/laktory-pulumi`). The archive takes about
180 MB.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyspark

ARCHIVE_ENV = "LAKTORY_JVM_CLASS_ARCHIVE"
CACHE_ENV = "LAKTORY_CACHE_DIR"
ARCHIVE_NAME = "classes.jsa"
# Dynamic archives came with Java 13 (JEP 350); an older JVM refuses to start with the option.
FIRST_JAVA_WITH_DYNAMIC_ARCHIVES = 13
# The JVM's own notes on classes it cannot archive (signed jars, old class files) are noise in
# the engine's log; errors still show.
_QUIET_CDS_LOG = "-Xlog:cds=error,cds+dynamic=error"


@dataclass(frozen=True)
class ClassArchive:
    """Where this machine keeps the class-data archive for one Java and one pyspark."""

    folder: Path

    @property
    def file(self) -> Path:
        """The archive later JVMs map; present once a JVM recorded it and exited cleanly."""
        return self.folder / ARCHIVE_NAME

    @property
    def conf_dir(self) -> Path:
        """The empty `SPARK_CONF_DIR` of every JVM that makes or uses this archive."""
        return self.folder / "empty-conf"

    def partial_file(self, pid: int) -> Path:
        """Where the JVM of supervisor `pid` records its classes before it is kept."""
        return self.folder / f"{ARCHIVE_NAME}.{pid}.partial"

    def java_options(self, recorder_pid: int | None) -> list[str]:
        """Options to map the archive, or (no archive yet, `recorder_pid` given) to record it."""
        if self.file.is_file():
            return [f"-XX:SharedArchiveFile={self.file}", _QUIET_CDS_LOG]
        if recorder_pid is None or self.recording_elsewhere(recorder_pid):
            # One recorder at a time: each dump writes about 250 MB while its JVM exits.
            return []
        return [f"-XX:ArchiveClassesAtExit={self.partial_file(recorder_pid)}", _QUIET_CDS_LOG]

    def recording_elsewhere(self, pid: int) -> bool:
        """Whether another live supervisor's JVM is recording the archive."""
        return any(
            partial != self.partial_file(pid)
            for partial in self.folder.glob(f"{ARCHIVE_NAME}.*.partial")
            if _recorder_alive(partial)
        )

    def prepare(self) -> None:
        """Create the folder and its empty conf folder; drop what killed recorders left."""
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        for partial in self.folder.glob(f"{ARCHIVE_NAME}.*.partial"):
            if not _recorder_alive(partial):
                partial.unlink(missing_ok=True)


def class_archive(environment: Mapping[str, str]) -> ClassArchive | None:
    """The archive for the Java that `spark-submit` runs under `environment`; None when off.

    Off when `LAKTORY_JVM_CLASS_ARCHIVE=0`, when no Java is found, or when it is older than 13.
    """
    if environment.get(ARCHIVE_ENV, "1").strip().lower() in {"0", "false", "no", "off"}:
        return None
    java_home = _java_home(environment)
    if java_home is None:
        return None
    version = _java_version(java_home)
    if version is None or _major(version) < FIRST_JAVA_WITH_DYNAMIC_ARCHIVES:
        return None
    jars = Path(pyspark.__file__).parent / "jars"
    key = hashlib.sha256(
        "\0".join([str(java_home), version, pyspark.__version__, str(jars)]).encode()
    ).hexdigest()[:16]
    return ClassArchive(_cache_root(environment) / "jvm-classes" / f"java{version}-{key}")


def keep_recorded_archive(archive: ClassArchive, recorder_pid: int, exit_code: int | None) -> bool:
    """Move a recorded archive into place if its JVM exited by itself; drop it otherwise.

    A JVM asked to stop (SIGTERM) runs its exit path, the dump included, and exits with a
    code; one killed (a negative code: the signal) may have left half a file.
    """
    partial = archive.partial_file(recorder_pid)
    if not partial.is_file():
        return False
    if exit_code is None or exit_code < 0 or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        return False
    os.replace(partial, archive.file)
    return True


def _recorder_alive(partial: Path) -> bool:
    """Whether the supervisor named in a partial archive's file name still runs."""
    pid = partial.name.split(".")[-2]
    return pid.isdigit() and Path("/proc", pid).exists()


def _cache_root(environment: Mapping[str, str]) -> Path:
    if environment.get(CACHE_ENV):
        return Path(environment[CACHE_ENV]).expanduser()
    xdg = environment.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "laktory-pulumi"


def _java_home(environment: Mapping[str, str]) -> Path | None:
    """`JAVA_HOME`, as spark-class takes it, else the home of the `java` on `PATH`."""
    if environment.get("JAVA_HOME"):
        return Path(environment["JAVA_HOME"]).resolve()
    java = shutil.which("java", path=environment.get("PATH"))
    if java is None:
        return None
    return Path(java).resolve().parent.parent


def _java_version(java_home: Path) -> str | None:
    """`JAVA_VERSION` of the JDK's `release` file (present in every JDK since 9)."""
    try:
        text = (java_home / "release").read_text(errors="replace")
    except OSError:
        return None
    found = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.MULTILINE)
    return found.group(1) if found else None


def _major(version: str) -> int:
    """17 for "17.0.15", 8 for "1.8.0_392"."""
    parts = version.split(".")
    try:
        first = int(parts[0])
        return int(parts[1]) if first == 1 and len(parts) > 1 else first
    except ValueError:
        return 0
