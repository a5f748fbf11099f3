"""Secrets followed from the variable to the resource input (issue #12).

`${vars.X}` and `${env.X}` are substituted in the YAML before validation; the loader records
each field that received a secret, and the deploy conceals every input holding such a field's
whole value. A short secret interpolated into text (`retries-${vars.retries}` with a secret
`7`) is then concealed, which no search for the secret's own text could do without hiding every
input holding a 7. The Pulumi engine is mocked (`deploy.preview.run_under_mocks`, given the
config the engine would hand the program: the stack file's values, decrypted).
"""

from __future__ import annotations

import base64
import contextvars
import json
from pathlib import Path
from typing import Any

import yaml
from test_deploy_support import FILE_TYPE, PIPELINE_TYPE, by_key, copy_project, of_type

from laktory_pulumi.deploy.preview import (
    OfflineMocks,
    PlannedResource,
    engine_config_of,
    run_under_mocks,
)
from laktory_pulumi.deploy.program import deploy_stack
from laktory_pulumi.deploy.secrets import SecretValues
from laktory_pulumi.loader.variables import substitute
from laktory_pulumi.loader.yaml_source import YamlSource

NAME = "pl-stock-prices"
VARS = "lakehouse:vars"
CIPHERTEXT = {"secure": "v1:ZW5jcnlwdGVk"}


def test_substitution_names_the_fields_that_received_a_secret() -> None:
    source = YamlSource(
        "p.yaml",
        {
            "catalog": "${vars.catalog}",
            "configuration": {
                "retries": "retries-${vars.retries}",
                "token": "${env.A_TOKEN}",
                "held": "${vars.held}",
            },
        },
    )
    secret = substitute(
        source,
        {"catalog": "dev", "retries": 7, "held": CIPHERTEXT},
        {"A_TOKEN": "t"},
        secret_variables={"retries"},
    )
    assert source.data["configuration"]["retries"] == "retries-7"
    assert secret == {
        ("configuration", "retries"),  # a secret variable, inside text
        ("configuration", "token"),  # the environment
        ("configuration", "held"),  # a value the engine did not decrypt
    }


def _deploy(project: Path, file_vars: dict[str, Any], engine_vars: dict[str, Any]) -> list[Any]:
    """The resources of the program, the stack file writing `file_vars` and the engine handing
    the program `engine_vars` (decrypted), with `lakehouse:vars` secret."""
    stack_file = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"][VARS] = file_vars
    stack_file.write_text(yaml.safe_dump(document))
    config, _ = engine_config_of(document["config"])
    config[VARS] = json.dumps(engine_vars)

    def run() -> list[PlannedResource]:
        # The workspace holds catalog `dev` (the program looks it up, deploy.prerequisites).
        mocks = OfflineMocks(catalogs={"dev"})
        return run_under_mocks(
            lambda: deploy_stack(project), "lakehouse", "dev", config, [VARS], mocks
        )

    return contextvars.Context().run(run)


def _with_retries(project: Path) -> None:
    path = project / "stacks" / "pipelines" / f"{NAME}.yaml"
    text = path.read_text()
    old = "  landing_root: ${vars.landing_root}"
    assert old in text
    path.write_text(text.replace(old, old + "\n  retries: retries-${vars.retries}"))


def _metadata(keyed: dict[Any, Any]) -> bytes:
    return base64.b64decode(keyed[(FILE_TYPE, f"{NAME}/metadata")].inputs["contentBase64"])


def test_a_short_secret_inside_text_is_concealed(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    _with_retries(project)
    written = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"][VARS]
    keyed = by_key(_deploy(project, {**written, "retries": CIPHERTEXT}, {**written, "retries": 7}))
    # The secret value alone would not be found: a 7 among other text is not looked for.
    assert not SecretValues.of([7]).found_in({"retries": "retries-7"})
    pipeline = keyed[(PIPELINE_TYPE, NAME)]
    assert pipeline.secret_inputs == {"configuration"}
    assert keyed[(FILE_TYPE, f"{NAME}/metadata")].secret_inputs == {"contentBase64"}
    metadata = _metadata(keyed)
    assert b"retries-7" not in metadata
    configuration = json.loads(metadata)["configuration"]
    assert configuration["retries"] == "[secret]"
    # The variables the stack file writes in clear are no secret: they stay readable.
    assert configuration["landing_root"] == "/Volumes/dev/sources/landing"
    assert pipeline.inputs["catalog"] == "dev"


def test_with_no_variable_marked_every_variable_is_secret(tmp_path: Path) -> None:
    # The engine says `vars` is secret but the stack file encrypts none of them (the value came
    # from elsewhere): every variable counts, so the catalog and what is named after it too.
    project = copy_project(tmp_path / "project")
    _with_retries(project)
    written = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"][VARS]
    resources = _deploy(project, {**written, "retries": 7}, {**written, "retries": 7})
    keyed = by_key(resources)
    assert {"catalog", "configuration", "name"} <= keyed[(PIPELINE_TYPE, NAME)].secret_inputs
    schemas = of_type(resources, "databricks:index/schema:Schema")
    assert schemas and all(r.name.startswith("secret-") for r in schemas)
    assert all("catalogName" in r.secret_inputs for r in schemas)
