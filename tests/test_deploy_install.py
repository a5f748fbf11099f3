"""What a fresh clone installs: `requirements.txt` is the project itself, editable.

Pulumi's `toolchain: pip` (Pulumi.yaml) creates `.venv` with `python -m venv`, upgrades pip,
setuptools and wheel, then runs `pip install -r requirements.txt` in the project folder
(pulumi/pulumi sdk/python/toolchain/pip.go, `InstallDependencies`). docs/deploy.md step 1 does
the same by hand; tests/test_deploy_docs.py runs it on a copy of the repository (`CLONE_ENTRIES`)
and runs the program from the new venv.
"""

from __future__ import annotations

from test_deploy_support import REPO

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


def test_requirements_name_the_project_itself() -> None:
    lines = [
        line.strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-e ."]
