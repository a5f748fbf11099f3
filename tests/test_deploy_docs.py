"""docs/deploy.md, steps 1 to 6, run as written on a fresh copy of the repository.

Every command of the steps' `bash` blocks runs, in order, in one shell, as a reader pastes them.
What cannot exist here is stubbed: the Pulumi CLI (a script on PATH that records its arguments,
checks that the stack was created before it is used, and answers `preview` with the program run
under Pulumi's mock runtime by the `.venv` the steps made), and the package index (the new venv
sees this one's installed dependencies through a `.pth` file, so pip downloads nothing but the
build backend). A step missing from the docs (no venv, `laktory-pulumi` not on PATH, a stack
used before it is created) fails the walk. The install is then checked as Pulumi's own would
leave it (tests/test_deploy_install.py): every requirement met, the clone's code answering.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from test_deploy_install import CLONE_ENTRIES
from test_deploy_support import REPO

DOCS = REPO / "docs" / "deploy.md"
STEPS = re.compile(r"^## ([1-6])\. ", re.MULTILINE)

PULUMI_STUB = """#!/usr/bin/env bash
# The Pulumi CLI, as far as docs/deploy.md uses it.
set -euo pipefail
echo "pulumi $*" >> "$WALK_LOG"
case "$1" in
  login) ;;
  stack)
    [ "$2" = init ] || { echo "unexpected: pulumi $*" >&2; exit 2; }
    echo "$3" >> "$WALK_STACKS" ;;
  preview|up)
    [ "$2" = --stack ] || { echo "pulumi $1 without --stack" >&2; exit 2; }
    grep -qx "$3" "$WALK_STACKS" || { echo "no stack $3: pulumi stack init it first" >&2; exit 2; }
    case "$3" in */*) ;; *) echo "stack $3 is not org-qualified" >&2; exit 2 ;; esac
    # Pulumi runs the program with the project's .venv (Pulumi.yaml `virtualenv: .venv`).
    [ -x .venv/bin/python ] || { echo "no .venv" >&2; exit 2; }
    [ -n "${DATABRICKS_HOST:-}" ] && [ -n "${DATABRICKS_TOKEN:-}" ] || { echo "no credentials" >&2; exit 2; }
    # The program, once: `up` runs what `preview` just ran.
    if [ "$1" = preview ]; then
      .venv/bin/python -m laktory_pulumi.cli preview --stack "${3#*/}" > /dev/null
    fi ;;
  *) echo "unexpected: pulumi $*" >&2; exit 2 ;;
esac
"""


def step_commands(text: str) -> list[str]:
    """The lines of the `bash` blocks of steps 1 to 6, in order."""
    headings = list(STEPS.finditer(text))
    assert [match.group(1) for match in headings] == ["1", "2", "3", "4", "5", "6"]
    steps = text[headings[0].start() : text.index("\n## ", headings[-1].end())]
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", steps, re.DOTALL):
        commands += [line for line in block.splitlines() if line.strip()]
    return commands


@pytest.mark.slow
def test_the_deploy_steps_run_as_written_on_a_fresh_copy(tmp_path: Path) -> None:
    commands = step_commands(DOCS.read_text())
    assert commands[:3] == [
        "python3 -m venv .venv",
        ".venv/bin/pip install -r requirements.txt",
        "source .venv/bin/activate",
    ]
    clone = tmp_path / "clone"
    clone.mkdir()
    for entry in CLONE_ENTRIES:
        source = REPO / entry
        if source.is_dir():
            shutil.copytree(source, clone / entry, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, clone / entry)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "pulumi").write_text(PULUMI_STUB)
    (stubs / "pulumi").chmod(0o755)
    # `python3` of the docs is this interpreter; the venv then sees our installed dependencies.
    (stubs / "python3").symlink_to(sys.executable)
    deps = sysconfig.get_paths()["purelib"]
    offline = (
        'echo "' + deps + '" > "$(.venv/bin/python -c '
        '"import sysconfig; print(sysconfig.get_paths()[\'purelib\'])")/deps-of-the-test.pth"'
    )
    script = ["set -euo pipefail"]
    for command in commands:
        script.append(f"echo '+ {command}' >> \"$WALK_LOG\"")
        script.append(command)
        if command == "python3 -m venv .venv":
            script.append(offline)
    (tmp_path / "walk.sh").write_text("\n".join(script) + "\n")
    log = tmp_path / "walk.log"
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "WALK_LOG": str(log),
        "WALK_STACKS": str(tmp_path / "stacks.txt"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    run = subprocess.run(
        ["bash", str(tmp_path / "walk.sh")],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert run.returncode == 0, (log.read_text() if log.exists() else "") + run.stderr[-3000:]
    # Every requirement of the installed project is met in the new venv, and the clone's own
    # code answers, not this checkout's.
    python = str(clone / ".venv" / "bin" / "python")
    check = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    where = subprocess.run(
        [python, "-c", "import laktory_pulumi; print(laktory_pulumi.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(clone / "laktory_pulumi"))
    pulumi_calls = [line for line in log.read_text().splitlines() if line.startswith("pulumi ")]
    assert pulumi_calls == [
        "pulumi login",
        "pulumi stack init acme/dev",
        "pulumi stack init acme/prod",
        "pulumi preview --stack acme/dev",
        "pulumi up --stack acme/dev",
    ]


def test_the_docs_keep_credentials_out_of_stack_files() -> None:
    # A provider key in the stack file wins over the environment's DATABRICKS_HOST/TOKEN
    # (Pulumi provider configuration precedence), so CI would use what a developer once set.
    text = DOCS.read_text()
    assert not re.search(r"pulumi config set[^\n]*databricks:", text)
    for stack_file in REPO.glob("Pulumi.*.yaml"):
        config = yaml.safe_load(stack_file.read_text())["config"]
        assert not [key for key in config if key.startswith("databricks:")], stack_file.name
        assert "config set databricks:" not in stack_file.read_text(), stack_file.name
