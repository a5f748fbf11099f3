"""Variables: every misuse is a located error; `${var.X}`, quoted numbers and secure values work.

The invalid cases live in tests/data/invalid (variable_*.yaml), checked there for their exact
line and field; here, what the loader makes of the valid ones, and the message of each finding.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from laktory_pulumi.loader import LoadError, load_pipeline_file
from laktory_pulumi.loader.variables import SECRET_PLACEHOLDER
from laktory_pulumi.models import Pipeline

VARIABLES = {
    "catalog": "dev",
    "workers": 3,
    "flag": True,
    "self_ref": "${vars.self_ref}",
    "other": "${vars.catalog}",
    "nothing": None,
    "mapping": {"a": 1},
    "token": {"secure": "v1:AAAAciphertext"},
}


def load(tmp_path: Path, text: str) -> Pipeline:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_pipeline_file(path, VARIABLES)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(LoadError) as caught:
        load(tmp_path, text)
    assert len(caught.value.errors) == 1, caught.value.errors
    return str(caught.value.errors[0])


def test_an_unclosed_variable_is_a_located_error(tmp_path: Path) -> None:
    assert error_of(tmp_path, "name: p\ncatalog: x_${vars.catalog\n").startswith(
        f"{tmp_path / 'p.yaml'}:2:10: catalog: '${{vars.catalog' is never closed"
    )


def test_a_nested_variable_is_a_located_error(tmp_path: Path) -> None:
    assert "nests a variable" in error_of(tmp_path, "name: p\ncatalog: ${vars.${vars.x}}\n")


def test_a_self_reference_is_a_located_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, "name: p\ncatalog: ${vars.self_ref}\n")
    assert ":2:10: catalog: variable ${vars.self_ref} refers to itself" in message


def test_a_variable_holding_another_is_a_located_error(tmp_path: Path) -> None:
    assert "holds another variable" in error_of(tmp_path, "name: p\ncatalog: ${vars.other}\n")


@pytest.mark.parametrize(
    ("name", "what"), [("nothing", "nothing (null)"), ("mapping", "a mapping")]
)
def test_a_null_or_mapping_inside_text_is_a_located_error(
    tmp_path: Path, name: str, what: str
) -> None:
    message = error_of(tmp_path, f"name: p\ntarget: t_${{vars.{name}}}\n")
    assert f":2:9: target: variable ${{vars.{name}}} is {what}" in message


def test_a_variable_in_a_mapping_key_is_a_located_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, "name: p\nconfiguration:\n  ${vars.catalog}: x\n")
    assert ":3:3: configuration.${vars.catalog}: a variable cannot name a key" in message


def test_a_secure_value_inside_text_stays_secret(tmp_path: Path) -> None:
    pipeline = load(tmp_path, "name: p\nconfiguration:\n  url: https://u:${vars.token}@h\n")
    assert pipeline.configuration["url"] == f"https://u:{SECRET_PLACEHOLDER}@h"
    assert "ciphertext" not in pipeline.model_dump_json()
    assert "secure" not in pipeline.model_dump_json()


def test_an_integer_variable_becomes_text_when_quoted_or_inside_text(tmp_path: Path) -> None:
    pipeline = load(
        tmp_path,
        'name: p\ntarget: "${vars.workers}"\nconfiguration:\n  n: w${vars.workers}\n'
        "  flag: ${vars.flag}_on\nclusters:\n  - num_workers: ${vars.workers}\n",
    )
    assert pipeline.target == "3"
    assert pipeline.configuration == {"n": "w3", "flag": "true_on"}
    assert pipeline.clusters[0].num_workers == 3  # unquoted: keeps its type


def test_laktory_var_is_an_alias_of_vars(tmp_path: Path) -> None:
    pipeline = load(tmp_path, "name: p\ncatalog: ${var.catalog}\ntarget: t_${ var.catalog }\n")
    assert (pipeline.catalog, pipeline.target) == ("dev", "t_dev")


def test_text_that_is_not_a_variable_is_refused(tmp_path: Path) -> None:
    assert "is not a variable" in error_of(tmp_path, "name: p\ncatalog: ${catalog}\n")
