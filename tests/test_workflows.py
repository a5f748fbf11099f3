"""The GitHub workflows: actionlint finds nothing, and the triggers say what the README says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_deploy_support import REPO

WORKFLOWS = REPO / ".github" / "workflows"
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def workflow(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    loaded["on"] = loaded.pop(True)
    return loaded


def test_actionlint_finds_nothing() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {path.name for path in files} == {"ci.yml", "preview.yml", "deploy.yml"}
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, files)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize("name", ["ci.yml", "preview.yml"])
def test_pull_requests_are_tested_and_previewed(name: str) -> None:
    assert "pull_request" in workflow(name)["on"]


def test_the_preview_comments_and_runs_pulumi_preview_only_with_secrets() -> None:
    jobs = workflow("preview.yml")["jobs"]
    offline = "\n".join(step.get("run", "") for step in jobs["offline"]["steps"])
    assert 'laktory-pulumi preview --stack "$stack"' in offline
    assert 'laktory-pulumi graph "$pipeline" --stack dev' in offline
    assert any(
        step.get("uses", "").startswith("marocchino/sticky-pull-request-comment")
        for step in jobs["offline"]["steps"]
    )
    pulumi_steps = jobs["pulumi"]["steps"]
    (preview,) = [s for s in pulumi_steps if s.get("uses", "").startswith("pulumi/actions")]
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["comment-on-pr"] is True
    assert preview["if"] == "steps.secrets.outputs.available == 'true'"
    assert "::notice" in pulumi_steps[0]["run"]
    assert jobs["pulumi"]["strategy"]["matrix"]["stack"] == ["dev", "prod"]


def test_dev_deploys_from_main_and_prod_only_on_a_tag_or_a_manual_run() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert "workflow_dispatch" in deploy["on"]
    assert "pull_request" not in deploy["on"]
    jobs = deploy["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"

    def pulumi_command(job: dict[str, Any]) -> tuple[str, str]:
        (step,) = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions")]
        return step["with"]["command"], step["with"]["stack-name"]

    assert pulumi_command(jobs["dev"]) == ("up", "${{ vars.PULUMI_ORG }}/dev")
    assert jobs["dev"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert pulumi_command(jobs["prod"]) == ("up", "${{ vars.PULUMI_ORG }}/prod")
    assert jobs["prod"]["environment"] == "prod"
    prod_condition = " ".join(jobs["prod"]["if"].split())
    assert "startsWith(github.ref, 'refs/tags/v')" in prod_condition
    assert "github.event_name == 'workflow_dispatch'" in prod_condition
    assert "refs/heads/main'" in prod_condition  # a manual run from main (or a tag) only
    assert {jobs["dev"]["needs"], jobs["prod"]["needs"]} == {"test"}


def stacks_of_the_repository() -> list[str]:
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in REPO.glob("Pulumi.*.yaml")
    )


def test_the_real_preview_runs_per_stack_with_that_stacks_environment_secrets() -> None:
    job = workflow("preview.yml")["jobs"]["pulumi"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == stacks_of_the_repository()
    # The secrets come from a read-only environment per stack (`preview-<stack>`), never the
    # deploy environments (test_deploy_ci.py): each stack previews against its own workspace.
    assert job["environment"] == "preview-${{ matrix.stack }}"
    assert job["env"] == {
        "PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}",
        "DATABRICKS_HOST": "${{ secrets.DATABRICKS_HOST }}",
        "DATABRICKS_TOKEN": "${{ secrets.DATABRICKS_TOKEN }}",
        "PULUMI_ORG": "${{ vars.PULUMI_ORG }}",
    }
    (preview,) = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions")]
    assert preview["with"]["stack-name"] == "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}"
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert ".venv/bin/pip install -r requirements.txt" in runs


def test_deploys_create_a_missing_stack_and_install_what_pulumi_would() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    for stack in ("dev", "prod"):
        job = jobs[stack]
        assert job["environment"] == stack
        (step,) = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions")]
        assert step["with"]["upsert"] is True
        runs = "\n".join(s.get("run", "") for s in job["steps"])
        assert "python -m venv .venv" in runs
        assert ".venv/bin/pip install -r requirements.txt" in runs
