"""No secret in clear in what a run or a deploy writes or prints (issue #12).

A local run whose configuration holds an `${env.X}` value (every environment value is secret)
and a `${secret.SCOPE/KEY}` reference, and whose silver filter reads the secret as `${conf.KEY}`
(issue #23): every file of the state folder (logs, event log, run report, spec, metadata, Spark's
and the engine's logs) and the command's output are searched for the secret's text. The same run
first refuses an encrypted stack value it cannot decrypt, at its line. The Pulumi program's error and log text are checked the same way, under
Pulumi's mock runtime.
"""

from __future__ import annotations

import contextvars
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.pipelines.cli import load_pipeline_spec
from test_deploy_support import copy_project
from test_local_support import (
    STOCK_EVENTS,
    bronze_silver_yaml,
    land,
    make_project,
    run,
    run_state,
    stock_lines,
)

from laktory_pulumi.deploy.preview import engine_config_of, run_under_mocks
from laktory_pulumi.deploy.program import deploy_stack
from laktory_pulumi.deploy.secrets import SecretValues
from laktory_pulumi.loader import LoadError
from laktory_pulumi.local.engine import stop_engine
from laktory_pulumi.local.layout import StateLayout
from laktory_pulumi.local.secret_configuration import (
    driver_environment,
    split_configuration,
    with_secret_configuration,
)
from laktory_pulumi.local.spec import write_spec
from laktory_pulumi.models import Pipeline

TOKEN = "tok-Zq81-never-in-clear"
ENV = "LAKTORY_HARDEN_TOKEN"
VARS = "lakehouse:vars"
CIPHERTEXT = "v1:Q2lwaGVydGV4dA=="


def _files_holding(root: Path, text: str) -> list[Path]:
    needle = text.encode()
    return [p for p in sorted(root.rglob("*")) if p.is_file() and needle in p.read_bytes()]


def test_the_spec_omits_secret_values_and_the_driver_gets_them_back(tmp_path: Path) -> None:
    layout = StateLayout.at(tmp_path / "state")
    pipeline = Pipeline(name="p")
    configuration = {"api_token": f"Bearer {TOKEN}", "landing_root": "/landing"}
    plain, hidden = split_configuration(configuration, SecretValues.of_fields([TOKEN]))
    assert hidden == {"api_token": f"Bearer {TOKEN}"}
    spec_file = write_spec(layout, pipeline, [], plain)
    assert _files_holding(layout.root, TOKEN) == []
    environment = driver_environment({"PATH": "/bin"}, hidden)
    # What the driver does: pyspark's own spec loader, then the environment's values.
    spec = with_secret_configuration(load_pipeline_spec(spec_file), environment)
    assert dict(spec.configuration) == configuration
    assert driver_environment({"PATH": "/bin"}, {}) == {"PATH": "/bin"}


@pytest.mark.slow
@pytest.mark.spark
def test_a_local_run_writes_and_prints_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV, TOKEN)
    text = bronze_silver_yaml("pl-secret", "hidden", "{name: r, expression: symbol IS NOT NULL}")
    text = text.replace(
        "target: hidden\n",
        "target: hidden\nconfiguration:\n  api_token: ${env." + ENV + "}\n"
        "  scoped: ${secret.kv/token}\n  encrypted: ${vars.encrypted}\n",
    )
    # The secret in a table's filter, as a reference Spark resolves at run time: unresolved,
    # `'${api_token}'` has 12 characters and the filter would drop every row (issue #23).
    text = text.replace(
        "      table_source: {name: brz_prices}\n",
        "      table_source: {name: brz_prices}\n"
        f"      filter: \"length('${{conf.api_token}}') = {len(TOKEN)}\"\n",
    )
    project = make_project(tmp_path / "project", text, "pl-secret")
    # A secret of the stack file: not decrypted outside the Pulumi engine, its ciphertext must
    # not be written either, and a run that needs it fails at the line using it, rather than
    # run on the text `[secret]`.
    stack_file = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"][VARS]["encrypted"] = {"secure": CIPHERTEXT}
    stack_file.write_text(yaml.safe_dump(document))
    landing, state = tmp_path / "landing", tmp_path / "state"
    land(landing, STOCK_EVENTS, "a.json", stock_lines()[:10])
    assert run(project, "pl-secret", landing, state) == 2
    refused = capsys.readouterr().err.strip().splitlines()
    assert len(refused) == 1 and "stacks/pipelines/pl-secret.yaml:" in refused[0], refused
    assert "${vars.encrypted}" in refused[0] and "only the Pulumi engine decrypts it" in refused[0]
    assert not state.exists()
    pipeline_file = project / "stacks" / "pipelines" / "pl-secret.yaml"
    pipeline_file.write_text(text.replace("  encrypted: ${vars.encrypted}\n", ""))
    try:
        code = run(project, "pl-secret", landing, state)
    finally:
        stop_engine(StateLayout.at(state))
    printed = capsys.readouterr()
    assert code == 0, printed.out
    assert run_state(state).tables["slv_prices"].rows_total == 10, "the filter read the secret"
    for secret in (TOKEN, CIPHERTEXT):
        assert secret not in printed.out and secret not in printed.err
        assert _files_holding(state, secret) == []
    # What was searched: the run's log, report, spec and metadata are among the files.
    layout = StateLayout.at(state)
    assert list(layout.logs.glob("*.log")) and layout.spec_file.is_file()
    metadata = next(state.glob("workspace/**/pl-secret.json"))
    document = json.loads(metadata.read_text())
    configuration = document["configuration"]
    assert configuration["api_token"] == "[secret]"
    # A secret scope reference is never resolved here: it stays Databricks' reference.
    assert configuration["scoped"] == "{{secrets/kv/token}}"
    # The deployed metadata holds the filter as a reference, never the value.
    assert "length('${api_token}')" in metadata.read_text()


def _program(
    project: Path, file_vars: dict[str, Any], engine_vars: dict[str, Any], **options: Any
) -> None:
    """Run the Pulumi program under mocks, `lakehouse:vars` secret, decrypted as `engine_vars`."""
    stack_file = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"][VARS] = file_vars
    stack_file.write_text(yaml.safe_dump(document))
    config, _ = engine_config_of(document["config"])
    config[VARS] = json.dumps(engine_vars)

    def program() -> None:
        deploy_stack(project, **options)

    contextvars.Context().run(run_under_mocks, program, "lakehouse", "dev", config, [VARS])


def _stack_vars(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"][VARS]


def test_the_programs_error_never_quotes_a_secret_group(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    pipeline_file = project / "stacks" / "pipelines" / "pl-stock-prices.yaml"
    pipeline_file.write_text(
        pipeline_file.read_text().replace("group_name: role-engineers", "group_name: ${vars.team}")
    )
    written = _stack_vars(project)
    group = "grp-S3cret-team"
    with pytest.raises(Exception) as caught:  # the engine may wrap it
        _program(
            project,
            {**written, "team": {"secure": "v1:ZW5jcnlwdGVk"}},
            {**written, "team": group},
            group_lookup=lambda name: None,  # no group exists in this workspace
        )
    error = caught.value
    while not isinstance(error, LoadError) and error.__context__ is not None:
        error = error.__context__  # type: ignore[assignment]
    assert isinstance(error, LoadError)
    assert "group '[secret]' is not in the workspace" in str(error)
    assert group not in str(error) and group not in str(caught.value)


def test_a_cluster_named_from_a_secret_is_refused_without_quoting_it(tmp_path: Path) -> None:
    # Pulumi shows resource names and URNs in clear: a name built from a secret is refused,
    # and neither the error nor what the engine wraps it in quotes the secret.
    project = copy_project(tmp_path / "project")
    cluster_file = project / "stacks" / "clusters" / "cl-debug.yaml"
    cluster_file.write_text(
        cluster_file.read_text().replace("name: cl-debug", "name: cl-${vars.suffix}")
    )
    written = _stack_vars(project)
    with pytest.raises(Exception) as caught:  # the engine may wrap it
        _program(
            project,
            {**written, "suffix": {"secure": "v1:ZW5jcnlwdGVk"}},
            {**written, "suffix": "S3cretSuffix"},
        )
    error = caught.value
    while not isinstance(error, LoadError) and error.__context__ is not None:
        error = error.__context__  # type: ignore[assignment]
    assert isinstance(error, LoadError)
    assert "stacks/clusters/cl-debug.yaml:" in str(error) and "secret variable" in str(error)
    assert "S3cretSuffix" not in str(error) and "S3cretSuffix" not in str(caught.value)


def test_the_local_engine_redacts_only_databricks_secret_references(tmp_path: Path) -> None:
    # Spark Connect answers None for a conf whose key or value matches `spark.redaction.regex`;
    # with Spark's default, a pipeline named pl-secret could not read its own name (the run
    # above is named so). The regex is a Java one; these patterns mean the same in Python.
    import re

    from laktory_pulumi.local.spec import spark_defaults, write_spark_conf

    layout = StateLayout.at(tmp_path / "state")
    pattern = re.compile(spark_defaults(layout)["spark.redaction.regex"])
    assert pattern.search("{{secrets/kv/token}}")
    assert not any(pattern.search(text) for text in ("pl-secret", "api_token", "password"))
    conf = (write_spark_conf(layout) / "spark-defaults.conf").read_text()
    assert "\\" not in conf  # `spark-defaults.conf` is a Java properties file: no escapes
