"""The `laktory_pulumi` wheel, built in memory from the installed package's sources.

DLT notebooks import `laktory_pulumi` (the models, `read_metadata`, the table builders), so the
package has to reach the pipeline's cluster. The deploy uploads this wheel as a workspace file
and the notebooks install it in their first cell (see `deploy.artifacts`).

The wheel is built here rather than by pip or a build backend so that a deploy needs no build
step, no network and no temporary files, and so that the same sources always give the same
bytes: Pulumi compares the uploaded content, and a wheel whose bytes changed at every
`pulumi up` (zip timestamps, file order) would be re-uploaded for nothing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "laktory-pulumi"
IMPORT_NAME = "laktory_pulumi"
# What the notebooks need at run time; pulumi stays out: it deploys, it never runs on a cluster.
REQUIRES_DIST = ("pydantic>=2.10,<3", "pyyaml>=6")
REQUIRES_PYTHON = ">=3.10"
# The earliest date a zip entry can carry; any fixed date makes the archive reproducible.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_PACKAGE_FILE_SUFFIXES = (".py", ".json")
_PACKAGE_FILE_NAMES = ("py.typed",)
# This file is laktory_pulumi/deploy/wheel.py.
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Wheel:
    """A built wheel: its file name (which pip parses) and its bytes."""

    filename: str
    content: bytes


def package_version() -> str:
    """The installed version of laktory-pulumi, which names the wheel."""
    return metadata.version(DISTRIBUTION)


def wheel_filename(version: str | None = None) -> str:
    """`laktory_pulumi-<version>-py3-none-any.whl`: pure Python, any platform."""
    return f"{IMPORT_NAME}-{version or package_version()}-py3-none-any.whl"


def package_files(package_dir: Path | None = None) -> list[tuple[str, bytes]]:
    """The package's sources as (archive path, bytes), sorted by archive path.

    Only `.py`, `.json` and `py.typed`: bytecode caches and editor files never enter the wheel,
    so the bytes depend on the sources alone.
    """
    root = package_dir or _PACKAGE_DIR
    files = []
    for path in root.rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if path.suffix in _PACKAGE_FILE_SUFFIXES or path.name in _PACKAGE_FILE_NAMES:
            archive_path = f"{IMPORT_NAME}/{path.relative_to(root).as_posix()}"
            files.append((archive_path, path.read_bytes()))
    return sorted(files)


@functools.lru_cache(maxsize=4)
def build_wheel(version: str | None = None, package_dir: Path | None = None) -> Wheel:
    """Build the wheel in memory; the same sources and version always give the same bytes.

    Built once per process: a stack of many pipelines uploads the same wheel for each.
    """
    version = version or package_version()
    dist_info = f"{IMPORT_NAME}-{version}.dist-info"
    entries = package_files(package_dir)
    entries.append((f"{dist_info}/METADATA", _metadata_text(version).encode()))
    entries.append((f"{dist_info}/WHEEL", _wheel_text().encode()))
    record_path = f"{dist_info}/RECORD"
    entries.append((record_path, _record_text(entries, record_path).encode()))

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for archive_path, content in entries:
            info = zipfile.ZipInfo(archive_path, date_time=ZIP_EPOCH)
            # Stored, not deflated: deflate's output depends on the zlib build (zlib-ng
            # distributions differ), which would make every machine's wheel a change.
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16  # rw-r--r--, whatever the umask of the builder
            archive.writestr(info, content)
    return Wheel(filename=wheel_filename(version), content=buffer.getvalue())


def _metadata_text(version: str) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {DISTRIBUTION}",
        f"Version: {version}",
        "Summary: Lakehouse pipelines declared in YAML; the runtime part DLT notebooks import.",
        f"Requires-Python: {REQUIRES_PYTHON}",
        *(f"Requires-Dist: {requirement}" for requirement in REQUIRES_DIST),
    ]
    return "\n".join(lines) + "\n"


def _wheel_text() -> str:
    lines = [
        "Wheel-Version: 1.0",
        f"Generator: {IMPORT_NAME}.deploy.wheel",
        "Root-Is-Purelib: true",
        "Tag: py3-none-any",
    ]
    return "\n".join(lines) + "\n"


def _record_text(entries: list[tuple[str, bytes]], record_path: str) -> str:
    """RECORD lists every file with its sha256 (urlsafe base64, unpadded) and size, then itself."""
    lines = []
    for archive_path, content in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
        lines.append(f"{archive_path},sha256={digest},{len(content)}")
    lines.append(f"{record_path},,")
    return "\n".join(lines) + "\n"
