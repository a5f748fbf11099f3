"""The laktory_pulumi wheel: the same bytes every time, a valid wheel, an importable package."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from test_deploy_support import REPO

from laktory_pulumi.deploy.wheel import (
    LTS_RUNTIME_PACKAGES,
    OFFLINE_LTS_RUNTIMES,
    PACKAGE_DATA,
    REQUIRES_DIST,
    ZIP_EPOCH,
    build_wheel,
    content_version,
    package_files,
    package_version,
)


def test_the_wheel_is_the_same_bytes_at_every_build() -> None:
    first, second = build_wheel(), build_wheel()
    assert first.content == second.content
    assert first.version == content_version(package_files())
    assert first.version.startswith(f"{package_version()}+g")
    assert first.filename == f"laktory_pulumi-{first.version}-py3-none-any.whl"


def test_the_wheel_holds_the_sources_and_valid_metadata() -> None:
    wheel = build_wheel()
    archive = zipfile.ZipFile(BytesIO(wheel.content))
    names = archive.namelist()
    dist_info = f"laktory_pulumi-{wheel.version}.dist-info"

    assert names[: len(names) - 3] == sorted(names[: len(names) - 3])
    assert names[-3:] == [f"{dist_info}/METADATA", f"{dist_info}/WHEEL", f"{dist_info}/RECORD"]
    assert {"laktory_pulumi/metadata.py", "laktory_pulumi/models/pipeline.py"} <= set(names)
    assert "laktory_pulumi/py.typed" in names
    assert "laktory_pulumi/schema/pipeline.schema.json" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert {info.date_time for info in archive.infolist()} == {ZIP_EPOCH}
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}

    metadata = archive.read(f"{dist_info}/METADATA").decode()
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requirements == ["Requires-Dist: pydantic>=2.10,<3", "Requires-Dist: pyyaml>=6"]
    assert "Name: laktory-pulumi" in metadata
    assert "Tag: py3-none-any" in archive.read(f"{dist_info}/WHEEL").decode()

    # RECORD names every other file with its real sha256 and size.
    record = archive.read(f"{dist_info}/RECORD").decode().splitlines()
    assert record[-1] == f"{dist_info}/RECORD,,"
    recorded = {line.rsplit(",", 2)[0]: line.rsplit(",", 2)[1:] for line in record[:-1]}
    assert set(recorded) == set(names) - {f"{dist_info}/RECORD"}
    for name, (digest, size) in recorded.items():
        content = archive.read(name)
        expected = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        assert digest == f"sha256={expected.decode()}", name
        assert int(size) == len(content)


def test_the_package_imports_from_the_wheel_and_pip_installs_it(tmp_path: Path) -> None:
    wheel = build_wheel()
    wheel_path = tmp_path / wheel.filename
    wheel_path.write_bytes(wheel.content)
    # Python imports straight from a zip on sys.path (zipimport): the wheel's package, not
    # the repository's, must answer.
    probe = (
        f"import sys; sys.path.insert(0, {str(wheel_path)!r}); "
        "import laktory_pulumi.metadata, laktory_pulumi.models; "
        "print(laktory_pulumi.metadata.__file__)"
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert imported.stdout.strip().startswith(str(wheel_path))

    target = tmp_path / "site"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"),
            *("--disable-pip-version-check", "--target", str(target), str(wheel_path)),
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "laktory_pulumi" / "metadata.py").read_bytes() == (
        REPO / "laktory_pulumi" / "metadata.py"
    ).read_bytes()
    assert (target / f"laktory_pulumi-{wheel.version}.dist-info" / "METADATA").is_file()


def package_copy(destination: Path) -> Path:
    """A copy of the package's sources, to change one byte of."""
    shutil.copytree(
        REPO / "laktory_pulumi", destination, ignore=shutil.ignore_patterns("__pycache__")
    )
    return destination


def test_any_change_of_the_sources_changes_the_version_and_the_file_name(
    tmp_path: Path,
) -> None:
    package = package_copy(tmp_path / "laktory_pulumi")
    before = build_wheel(package_dir=package)
    assert build_wheel(package_dir=package_copy(tmp_path / "same")).content == before.content
    module = package / "runtime" / "builders.py"
    module.write_text(module.read_text() + "\n# one more line\n")
    after = build_wheel(package_dir=package)
    assert after.version != before.version and after.filename != before.filename
    (package / "runtime" / "builders.py").rename(package / "runtime" / "builders2.py")
    renamed = build_wheel(package_dir=package)
    assert renamed.version not in (before.version, after.version)


@pytest.mark.slow  # two pip installs
def test_pip_installs_the_new_code_over_the_old_version(tmp_path: Path) -> None:
    """pip keeps an installed version equal to the requested one; a new hash is a new version."""
    package = package_copy(tmp_path / "laktory_pulumi")
    old = build_wheel(package_dir=package)
    (package / "marker_module.py").write_text("MARK = 'new'\n")
    new = build_wheel(package_dir=package)
    target = tmp_path / "site"
    for wheel in (old, new):
        path = tmp_path / wheel.filename
        path.write_bytes(wheel.content)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"),
                *("--disable-pip-version-check", "--upgrade", "--target", str(target)),
                str(path),
            ],
            check=True,
            capture_output=True,
        )
    assert (target / "laktory_pulumi" / "marker_module.py").read_text() == "MARK = 'new'\n"


def test_the_wheel_holds_only_the_package_modules_and_declared_data(tmp_path: Path) -> None:
    package = package_copy(tmp_path / "laktory_pulumi")
    clean = {name for name, _ in package_files(package)}
    # Strays: a folder that is no package, data outside the declared patterns, editor files.
    (package / "scratch").mkdir()
    (package / "scratch" / "try.py").write_text("print('hi')\n")
    (package / "notes.json").write_text("{}\n")
    (package / "models" / "dump.json").write_text("{}\n")
    (package / "schema" / "draft.txt").write_text("x\n")
    (package / "models" / "table.py~").write_text("x\n")
    (package / "models" / "__pycache__").mkdir(exist_ok=True)
    (package / "models" / "__pycache__" / "x.py").write_text("x\n")
    assert {name for name, _ in package_files(package)} == clean
    names = set(zipfile.ZipFile(BytesIO(build_wheel(package_dir=package).content)).namelist())
    assert not {
        name
        for name in names
        if "scratch" in name or name.endswith(("notes.json", "dump.json", "draft.txt", "~"))
    }
    # What stays: every module of every package folder, and the declared data.
    assert "laktory_pulumi/runtime/scd.py" in clean
    assert "laktory_pulumi/schema/pipeline.schema.json" in clean
    assert "laktory_pulumi/py.typed" in clean


def test_the_declared_data_is_pyprojects_package_data() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    declared = pyproject["tool"]["setuptools"]["package-data"]["laktory_pulumi"]
    assert tuple(declared) == PACKAGE_DATA


def test_the_lts_runtimes_named_offline_meet_the_wheels_requirements() -> None:
    from packaging.requirements import Requirement

    def met(runtime: str) -> bool:
        installed = LTS_RUNTIME_PACKAGES[runtime]
        return all(
            Requirement(text).specifier.contains(installed[Requirement(text).name])
            for text in REQUIRES_DIST
        )

    assert OFFLINE_LTS_RUNTIMES == ("17.3.x-scala2.13",)
    assert [runtime for runtime in LTS_RUNTIME_PACKAGES if met(runtime)] == list(
        OFFLINE_LTS_RUNTIMES
    )
    assert "17.3" in (REPO / "docs" / "deploy.md").read_text()
