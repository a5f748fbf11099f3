"""The `laktory_pulumi` wheel, built in memory from the installed package's sources.

DLT notebooks import `laktory_pulumi` (the models, `read_metadata`, the table builders), so the
package has to reach the pipeline's cluster. The deploy uploads this wheel as a workspace file
and the notebooks install it in their first cell (see `deploy.artifacts`).

The wheel is built here rather than by pip or a build backend so that a deploy needs no build
step, no network and no temporary files, and so that the same sources always give the same
bytes: Pulumi compares the uploaded content, and a wheel whose bytes changed at every
`pulumi up` (zip timestamps, file order) would be re-uploaded for nothing.

The version carries a hash of the sources as a local version label (`0.1.0+g1a2b3c4d5e6f`, PEP
440): pip keeps an installed distribution whose version equals the requested one ("Requirement
already satisfied"), so a cluster or an environment that installed yesterday's `0.1.0` would go
on running yesterday's code. With the hash in the version, and so in the file name and the
workspace path, any change of the sources is a new version that `%pip install` does install.

Only the package's own modules and declared data enter the wheel, as setuptools would pack
them: the `.py` files of the package's folders that are packages (an `__init__.py`), and the
`package-data` of pyproject.toml (`PACKAGE_DATA`). A stray script in a plain folder, a scratch
`.json` or an editor's backup never reaches a cluster.
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
# The Python packages of Databricks LTS runtimes, as Databricks publishes them
# (databricks/environments, python/dbr/<runtime>/constraints.txt). On these, `%pip install` of
# the wheel finds its requirements already installed and needs no internet access; on the
# others pip must download pydantic>=2.10 (docs/deploy.md). A test checks both claims.
LTS_RUNTIME_PACKAGES: dict[str, dict[str, str]] = {
    "17.3.x-scala2.13": {"pydantic": "2.10.6", "pyyaml": "6.0.2"},
    "16.4.x-scala2.12": {"pydantic": "2.8.2", "pyyaml": "6.0.1"},
    "15.4.x-scala2.12": {"pydantic": "1.10.6", "pyyaml": "6.0"},
}
OFFLINE_LTS_RUNTIMES = ("17.3.x-scala2.13",)
"""The LTS runtimes whose own packages meet `REQUIRES_DIST`."""
# The earliest date a zip entry can carry; any fixed date makes the archive reproducible.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# pyproject.toml's `[tool.setuptools.package-data] laktory_pulumi` (a test keeps them equal).
PACKAGE_DATA = ("py.typed", "schema/*.json", "models/spark_functions/*.json")
# How many hex digits of the sources' sha256 the local version label keeps.
HASH_DIGITS = 12
# This file is laktory_pulumi/deploy/wheel.py.
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Wheel:
    """A built wheel: its version, its file name (which pip parses) and its bytes."""

    version: str
    filename: str
    content: bytes


def package_version() -> str:
    """The installed version of laktory-pulumi (pyproject's), the public part of the wheel's."""
    return metadata.version(DISTRIBUTION)


def sources_hash(files: list[tuple[str, bytes]]) -> str:
    """sha256 of the archive paths and bytes, so a renamed module changes it too."""
    digest = hashlib.sha256()
    for archive_path, content in files:
        digest.update(archive_path.encode() + b"\0" + str(len(content)).encode() + b"\0")
        digest.update(content)
    return digest.hexdigest()


def content_version(files: list[tuple[str, bytes]], base: str | None = None) -> str:
    """`<base>+g<hash>`: the public version and a local label naming the sources exactly.

    The `g` keeps the label from being all digits, which PEP 440 would read as a number and
    strip of leading zeros.
    """
    base = (base or package_version()).split("+", 1)[0]
    return f"{base}+g{sources_hash(files)[:HASH_DIGITS]}"


def wheel_filename(version: str) -> str:
    """`laktory_pulumi-<version>-py3-none-any.whl`: pure Python, any platform.

    A local label's `+` stays as it is in a wheel's file name (PEP 427 escapes only `-`).
    """
    return f"{IMPORT_NAME}-{version}-py3-none-any.whl"


def package_files(package_dir: Path | None = None) -> list[tuple[str, bytes]]:
    """The package's modules and declared data as (archive path, bytes), sorted by path.

    Modules are the `.py` files of the root and of every sub-folder reached through packages
    (folders with an `__init__.py`); data are the `PACKAGE_DATA` patterns. Nothing else:
    bytecode caches, stray files and plain folders never enter the wheel.
    """
    root = package_dir or _PACKAGE_DIR
    chosen: set[Path] = set()
    for package in _packages(root):
        chosen.update(path for path in package.glob("*.py") if path.is_file())
    for pattern in PACKAGE_DATA:
        chosen.update(path for path in root.glob(pattern) if path.is_file())
    return sorted(
        (f"{IMPORT_NAME}/{path.relative_to(root).as_posix()}", path.read_bytes()) for path in chosen
    )


def _packages(root: Path) -> list[Path]:
    """`root` and its sub-folders that are packages, reached through packages only."""
    found = [root]
    for child in sorted(root.iterdir()):
        if child.is_dir() and (child / "__init__.py").is_file() and child.name != "__pycache__":
            found.extend(_packages(child))
    return found


def build_wheel(version: str | None = None, package_dir: Path | None = None) -> Wheel:
    """Build the wheel in memory; the same sources and version always give the same bytes.

    Without `version`, the version is `content_version` of the sources. The sources are read
    at every call and the archive built once per content: a stack of many pipelines uploads
    the same wheel for each, and an edited source is never served from the cache.
    """
    entries = tuple(package_files(package_dir))
    return _build(entries, version or content_version(list(entries)))


@functools.lru_cache(maxsize=4)
def _build(sources: tuple[tuple[str, bytes], ...], version: str) -> Wheel:
    dist_info = f"{IMPORT_NAME}-{version}.dist-info"
    entries = list(sources)
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
    return Wheel(version=version, filename=wheel_filename(version), content=buffer.getvalue())


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
