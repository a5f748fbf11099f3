"""The pull-request preview never runs with a deploy environment's credentials, and every
workflow names its stacks with their organization (docs/deploy.md, "CI")."""

from __future__ import annotations

from typing import Any

from test_workflows import workflow


def pulumi_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith("pulumi/")]


def test_the_pr_preview_runs_in_read_only_environments_of_its_own() -> None:
    deploy_environments = {
        job["environment"]
        for job in workflow("deploy.yml")["jobs"].values()
        if "environment" in job
    }
    assert deploy_environments == {"dev", "prod"}
    job = workflow("preview.yml")["jobs"]["pulumi"]
    # A pull request's code runs in this job: with a deploy environment it would hold the
    # deploy token, and a `prod` restricted to main would fail every pull request.
    assert job["environment"] == "preview-${{ matrix.stack }}"
    for stack in job["strategy"]["matrix"]["stack"]:
        assert f"preview-{stack}" not in deploy_environments
    (step,) = pulumi_steps(job)
    assert step["with"]["command"] == "preview"
    # A read-only token creates no stack.
    assert "upsert" not in step["with"]


def test_every_pulumi_step_names_an_org_qualified_stack() -> None:
    for name in ("preview.yml", "deploy.yml"):
        for job in workflow(name)["jobs"].values():
            for step in pulumi_steps(job) if "steps" in job else []:
                assert step["with"]["stack-name"].startswith("${{ vars.PULUMI_ORG }}/"), name
