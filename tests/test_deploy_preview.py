"""`laktory-pulumi preview`: the resource tree without the Pulumi CLI; located errors on bad YAML."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_deploy_support import PIPELINE_TYPE, REPO, copy_project

from laktory_pulumi.cli import EXIT_INVALID, main

CONSOLE_SCRIPT = Path(sys.executable).parent / "laktory-pulumi"


def test_preview_prints_the_tree_without_the_pulumi_cli() -> None:
    # Only the venv and the system folders: whatever else a developer has on PATH stays out.
    path = os.pathsep.join([str(CONSOLE_SCRIPT.parent), "/usr/bin", "/bin"])
    assert shutil.which("pulumi", path=path) is None
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "preview", "--stack", "dev"],
        cwd=REPO,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # The tree: the stack, the components under it, their children under them.
    assert "pulumi:pulumi:Stack  lakehouse-dev" in lines
    assert "    laktory:databricks:Pipeline  pl-stock-prices" in lines
    assert f"        {PIPELINE_TYPE}  pl-stock-prices" in lines
    assert "    laktory:databricks:Cluster  cl-debug" in lines
    assert "        databricks:index/cluster:Cluster  cl-debug" in lines
    assert "            | catalog: dev" in lines
    assert "            | schema: finance" in lines
    # Contents are summarized, never dumped.
    assert not [line for line in lines if len(line) > 400]


def test_preview_json_has_every_input_and_the_parents(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "--stack", "prod", "--project", str(REPO), "--json"]) == 0
    resources = json.loads(capsys.readouterr().out)
    by_name = {(r["type"], r["name"]): r for r in resources}
    component = by_name[("laktory:databricks:Pipeline", "pl-stock-prices")]
    pipeline = by_name[(PIPELINE_TYPE, "pl-stock-prices")]
    metadata = by_name[("databricks:index/workspaceFile:WorkspaceFile", "pl-stock-prices/metadata")]

    assert pipeline["parent"] == metadata["parent"] == component["urn"]
    assert pipeline["protect"] is True
    assert pipeline["inputs"]["catalog"] == "prod"
    # Full inputs: the content itself, not a summary.
    assert metadata["inputs"]["contentBase64"].startswith("ew")  # base64 of "{"


def test_invalid_yaml_is_reported_at_its_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path / "project")
    pipeline_file = project / "stacks" / "pipelines" / "pl-stock-prices.yaml"
    text = pipeline_file.read_text()
    pipeline_file.write_text(text.replace("target: finance", "taregt: finance"))
    line = text.splitlines().index("target: finance") + 1

    assert main(["preview", "--stack", "dev", "--project", str(project)]) == EXIT_INVALID
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"stacks/pipelines/pl-stock-prices.yaml:{line}:1: taregt: ")
    assert "Traceback" not in captured.err


def test_an_unknown_stack_is_an_error_not_an_empty_plan(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["preview", "--stack", "staging", "--project", str(REPO)]) == EXIT_INVALID
    assert "no stack 'staging'; stacks here: dev, prod" in capsys.readouterr().err
