"""The pull-request preview never runs with a deploy environment's credentials, and every
workflow names its stacks with their organization (docs/deploy.md, "CI")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_deploy_support import STACK_TYPE, copy_project
from test_workflows import workflow

from laktory_pulumi.cli import EXIT_INVALID, main


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


def test_the_offline_pr_preview_names_the_tables_a_change_drops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The offline job plans the base branch, then the pull request against what the base
    deploys (`--deployed`), as the workflow's step does."""
    offline = "\n".join(
        s.get("run", "") for s in workflow("preview.yml")["jobs"]["offline"]["steps"]
    )
    assert "--json) > base-plan.json" in offline
    assert 'laktory-pulumi preview --stack "$stack" "${deployed[@]}"' in offline

    base = copy_project(tmp_path / "base")
    head = copy_project(tmp_path / "head")
    pipeline_file = head / "stacks" / "pipelines" / "pl-stock-prices.yaml"
    text = pipeline_file.read_text()
    gold = text.index("  - name: gld_stock_performances")
    pipeline_file.write_text(text[:gold])  # the pull request removes the gold table
    tables_line = text.splitlines().index("tables:") + 2
    for stack in ("prod", "dev"):
        assert main(["preview", "--project", str(base), "--stack", stack, "--json"]) == 0
        plan = json.loads(capsys.readouterr().out)
        deployed = next(r["outputs"]["deployed"] for r in plan if r["type"] == STACK_TYPE)
        (tmp_path / f"{stack}.json").write_text(json.dumps(deployed))
    arguments = ["preview", "--project", str(head), "--deployed"]
    # prod is protected: refused at the pipeline's tables, naming the table.
    assert main([*arguments, str(tmp_path / "prod.json"), "--stack", "prod"]) == EXIT_INVALID
    assert (
        f"stacks/pipelines/pl-stock-prices.yaml:{tables_line}:3: tables: the stack is protected "
        "and this update would drop gld_stock_performances"
    ) in capsys.readouterr().err
    # dev is not: the plan passes and names what it drops.
    assert main([*arguments, str(tmp_path / "dev.json"), "--stack", "dev"]) == 0
    assert (
        "tables: this update drops table(s) dev.finance.gld_stock_performances"
        in capsys.readouterr().err
    )
