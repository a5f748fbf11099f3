"""Secrets: what is secret, and that it never reaches the plan, the metadata or an error in clear.

Secret are the values of secret config keys (`secure:`), every value `${env.NAME}` reads, and
`${secret.SCOPE/KEY}`, which is never read at all: Databricks resolves `{{secrets/SCOPE/KEY}}` in
the pipeline's configuration at run time. The Pulumi engine is mocked (`deploy.preview`); the
mocks know nothing of secrets but record which inputs were sent as secrets.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pulumi
import pytest
import yaml
from test_deploy_support import FILE_TYPE, PERMISSIONS_TYPE, PIPELINE_TYPE, by_key, copy_project

from laktory_pulumi.cli import main
from laktory_pulumi.deploy.preview import plan, render_tree
from laktory_pulumi.deploy.secrets import SecretValues, env_secret_values
from laktory_pulumi.loader import LoadError, load_pipeline_file, load_stack

NAME = "pl-stock-prices"
TOKEN = "s3cr3t-env-token-value"
ENV = "LAKTORY_TEST_API_TOKEN"


def add_to_stock(project: Path, old: str, new: str) -> None:
    path = project / "stacks" / "pipelines" / f"{NAME}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture
def env_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ENV, TOKEN)
    return TOKEN


def test_env_values_are_pulumi_secrets_and_stay_out_of_the_plan(
    tmp_path: Path, env_token: str
) -> None:
    project = copy_project(tmp_path / "project")
    add_to_stock(
        project,
        "  landing_root: ${vars.landing_root}",
        "  landing_root: ${vars.landing_root}\n  api_token: ${env." + ENV + "}",
    )
    resources = plan(project, "dev")
    keyed = by_key(resources)
    assert "configuration" in keyed[(PIPELINE_TYPE, NAME)].secret_inputs
    assert keyed[(FILE_TYPE, f"{NAME}/metadata")].secret_inputs == {"contentBase64"}
    assert env_token not in render_tree(resources)
    # The metadata file, readable by the pipeline's principals, holds no secret in clear.
    metadata = base64.b64decode(keyed[(FILE_TYPE, f"{NAME}/metadata")].inputs["contentBase64"])
    assert env_token.encode() not in metadata
    configuration = json.loads(metadata)["configuration"]
    assert configuration["api_token"] == "[secret]"
    assert configuration["landing_root"] == "/Volumes/dev/sources/landing"


def test_env_secret_values_are_the_values_the_definitions_read(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    add_to_stock(project, "target: finance", "target: ${env.A_TARGET}")
    secrets = env_secret_values(project, {"A_TARGET": "markets", "UNUSED": "other"})
    assert secrets.values == {"markets"}


def test_a_secret_scope_reference_becomes_databricks_own_reference(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\nconfiguration:\n  token: ${secret.kv-scope/api_token}\n"
        "clusters:\n  - spark_env_vars: {TOKEN: '${secret.kv/t}'}\n"
    )
    pipeline = load_pipeline_file(path, {})
    assert pipeline.configuration["token"] == "{{secrets/kv-scope/api_token}}"
    assert pipeline.clusters[0].spark_env_vars == {"TOKEN": "{{secrets/kv/t}}"}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name: p\ncatalog: ${secret.kv/catalog}\n", "goes only in configuration"),
        ("name: p\nconfiguration:\n  url: https://${secret.kv/t}@h\n", "a whole value"),
        ("name: p\nconfiguration:\n  t: ${secret.no_key}\n", "not a secret reference"),
    ],
)
def test_a_secret_scope_reference_where_databricks_does_not_resolve_it_is_refused(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, {})
    assert len(caught.value.errors) == 1 and words in caught.value.errors[0].message


def test_an_error_never_shows_a_value_read_from_a_variable(
    tmp_path: Path, env_token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A field's type (pydantic's message) and a rule across fields (a name with a dot).
    cases = [
        ("    node_type_id: Standard_DS3_v2", "    num_workers: ${env." + ENV + "}"),
        ("target: finance", "target: ${env." + ENV + "}_x.y"),
    ]
    for index, (old, new) in enumerate(cases):
        project = copy_project(tmp_path / f"project{index}")
        add_to_stock(project, old, new)
        assert main(["validate", "--project", str(project), "--stack", "dev"]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1, err
        assert f"${{env.{ENV}}}" in err  # the variable is named...
        assert env_token not in err  # ...never its value


def test_integer_secrets_are_concealed() -> None:
    secrets = SecretValues.of([{"workers": 7, "account": 123456}])
    assert secrets.found_in({"num_workers": 7})
    assert secrets.found_in({"comment": "account 123456"})  # long enough to match as text
    assert not secrets.found_in({"comment": "7 rows"})  # a short number only matches as itself
    assert not secrets.found_in({"flag": True})
    assert isinstance(secrets.conceal({"num_workers": 7}), pulumi.Output)
    # The metadata file (JSON bytes) holding the secret number is concealed too.
    assert secrets.found_in(json.dumps({"clusters": [{"num_workers": 7}]}).encode())
    assert not secrets.found_in(json.dumps({"clusters": [{"num_workers": 8}]}).encode())


def test_principals_from_secret_variables_are_concealed(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    stack_file = project / "Pulumi.dev.yaml"
    config = yaml.safe_load(stack_file.read_text())
    config["config"]["lakehouse:vars"]["owner"] = {"secure": "v1:ZW5jcnlwdGVk"}
    stack_file.write_text(yaml.safe_dump(config))
    add_to_stock(project, "  - group_name: role-engineers", "  - user_name: ${vars.owner}")
    keyed = by_key(plan(project, "dev"))
    permissions = [
        r for key, r in keyed.items() if key[0] == PERMISSIONS_TYPE and key[1].startswith(NAME)
    ]
    assert permissions and all(r.secret_inputs == {"accessControls"} for r in permissions)
    for resource in permissions:
        assert "v1:ZW5jcnlwdGVk" not in json.dumps(resource.inputs, default=str)


def test_a_name_built_from_a_secret_variable_is_refused_at_its_line(tmp_path: Path) -> None:
    # Resource names and URNs are never secret in Pulumi: a secret name would reach the state
    # and every preview in clear.
    project = copy_project(tmp_path / "project")
    stack_file = project / "Pulumi.dev.yaml"
    config = yaml.safe_load(stack_file.read_text())
    config["config"]["lakehouse:vars"]["suffix"] = {"secure": "v1:ZW5jcnlwdGVk"}
    stack_file.write_text(yaml.safe_dump(config))
    add_to_stock(project, "name: pl-stock-prices", "name: pl-stock-${vars.suffix}")
    with pytest.raises(LoadError) as raised:
        load_stack(project, "dev")
    (error,) = raised.value.errors
    assert str(error).startswith("stacks/pipelines/pl-stock-prices.yaml:4:7: name: ")
    assert "secret variable" in str(error)
