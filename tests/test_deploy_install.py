"""A fresh clone installs the way Pulumi's own toolchain does, and the program then runs.

Pulumi's `toolchain: pip` (Pulumi.yaml) creates `.venv` with `python -m venv`, upgrades pip,
setuptools and wheel, then runs `pip install -r requirements.txt` in the project folder
(pulumi/pulumi sdk/python/toolchain/pip.go, `InstallDependencies`). This test does the same in
a copy of the repository, except that the dependencies are taken from the running venv (a
`.pth` file, and `--no-deps`) so that it downloads nothing but the build backend.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from test_deploy_support import REPO

pytestmark = pytest.mark.slow

# What a clone holds that the install and the program read.
CLONE_ENTRIES = (
    "pyproject.toml",
    "README.md",
    "requirements.txt",
    "Pulumi.yaml",
    "Pulumi.dev.yaml",
    "Pulumi.prod.yaml",
    "__main__.py",
    "laktory_pulumi",
    "stacks",
    "notebooks",
)

PROBE = """
import json, sys
from pathlib import Path
import laktory_pulumi
from laktory_pulumi.deploy.preview import plan
resources = plan(Path(sys.argv[1]), "dev")
print(json.dumps({
    "package": laktory_pulumi.__file__,
    "types": sorted({r.type for r in resources}),
}))
"""


def test_a_fresh_clone_installs_with_pulumis_toolchain_and_runs_the_program(
    tmp_path: Path,
) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    for entry in CLONE_ENTRIES:
        source = REPO / entry
        if source.is_dir():
            shutil.copytree(source, clone / entry, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, clone / entry)
    venv = clone / ".venv"  # the `virtualenv:` of Pulumi.yaml
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies, already installed here, instead of a download of each.
    (Path(site) / "deps-of-the-test.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    install = subprocess.run(
        [
            *(str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("--no-deps", "-r", "requirements.txt"),
        ],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    # Every requirement of the installed project is met in the new venv.
    check = subprocess.run(
        [str(python), "-m", "pip", "check"], cwd=clone, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout

    run = subprocess.run(
        [str(python), "-c", PROBE, str(clone)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    # The clone's own code answers, not this checkout's.
    assert result["package"].startswith(str(clone / "laktory_pulumi"))
    assert {
        "databricks:index/pipeline:Pipeline",
        "databricks:index/notebook:Notebook",
        "pulumi:pulumi:Stack",
    } <= set(result["types"])


def test_requirements_name_the_project_itself() -> None:
    lines = [
        line.strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-e ."]
