"""`Pulumi.<stack>.yaml` and the files of `stacks/`: every mistake is a located error.

Each case was a silent default (an unprotected prod) or a Python traceback before.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_deploy_support import copy_project

from laktory_pulumi.loader import LoadError, StackConfig, load_stack
from laktory_pulumi.loader.stack import KNOWN_KEYS, default_laktory_root, default_name_prefix

STACK_HEAD = "config:\n  lakehouse:vars:\n    catalog: dev\n    landing_root: /Volumes/dev/s/l\n"
STACK_TAIL = "    min_workers: 1\n    max_workers: 2\n    development: true\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def write_stack(project: Path, text: str) -> None:
    (project / "Pulumi.dev.yaml").write_text(text)


def errors_of(project: Path) -> list[str]:
    with pytest.raises(LoadError) as raised:
        load_stack(project, "dev")
    return [str(error) for error in raised.value.errors]


def test_a_misspelt_boolean_never_gives_an_unprotected_prod(project: Path) -> None:
    write_stack(project, STACK_HEAD + STACK_TAIL + "  lakehouse:protect: ture\n")
    assert errors_of(project) == [
        "Pulumi.dev.yaml:8:3: config.lakehouse:protect: protect must be true or false, found 'ture'"
    ]


def test_an_unknown_key_of_the_namespace_names_the_known_ones(project: Path) -> None:
    write_stack(project, STACK_HEAD + STACK_TAIL + "  lakehouse:protekt: true\n")
    (error,) = errors_of(project)
    assert error.startswith(
        "Pulumi.dev.yaml:8:3: config.lakehouse:protekt: unknown key 'lakehouse:protekt' "
        "(did you mean 'protect'?); known: "
    )
    assert all(key in error for key in KNOWN_KEYS)


def test_the_engine_spelling_of_booleans_is_read_strictly() -> None:
    assert StackConfig.from_settings("lakehouse", "prod", {"protect": "true"}).protect is True
    assert StackConfig.from_settings("lakehouse", "prod", {"protect": "false"}).protect is False
    with pytest.raises(LoadError) as raised:
        StackConfig.from_settings("lakehouse", "prod", {"protect": "yes"})
    assert [str(e) for e in raised.value.errors] == [
        "Pulumi.prod.yaml:1:1: config.lakehouse:protect: protect must be true or false, found 'yes'"
    ]


def test_config_as_a_list(project: Path) -> None:
    write_stack(project, "config:\n  - lakehouse:protect\n")
    assert errors_of(project) == [
        "Pulumi.dev.yaml:2:3: config: config must be a mapping of key: value"
    ]


def test_vars_as_a_list(project: Path) -> None:
    write_stack(project, "config:\n  lakehouse:vars:\n    - catalog\n")
    assert errors_of(project) == [
        "Pulumi.dev.yaml:2:3: config.lakehouse:vars: vars must be a mapping of NAME: value, "
        "found a list"
    ]


def test_vars_as_one_encrypted_value(project: Path) -> None:
    write_stack(project, "config:\n  lakehouse:vars:\n    secure: v1:AAAA\n")
    (error,) = errors_of(project)
    assert error.startswith("Pulumi.dev.yaml:2:3: config.lakehouse:vars: vars cannot be one ")
    assert "--path 'vars.NAME'" in error


def test_a_root_that_is_a_number(project: Path) -> None:
    write_stack(project, STACK_HEAD + STACK_TAIL + "  lakehouse:laktory_root: 5\n")
    assert errors_of(project) == [
        "Pulumi.dev.yaml:8:3: config.lakehouse:laktory_root: laktory_root must be a workspace "
        "folder such as /.laktory/dev/, found 5"
    ]


def test_a_stack_file_that_is_not_utf8(project: Path) -> None:
    (project / "Pulumi.dev.yaml").write_bytes(b"config:\n  lakehouse:protect: f\xe4lse\n")
    assert errors_of(project) == [
        "Pulumi.dev.yaml:2:23: (file): byte 0xe4 is not UTF-8; save the file as UTF-8"
    ]


def test_two_cluster_files_with_one_name(project: Path) -> None:
    clusters = project / "stacks" / "clusters"
    text = (clusters / "cl-debug.yaml").read_text()
    (clusters / "zz-copy.yaml").write_text(text.replace("num_workers: 1", "num_workers: 9"))
    line = text.splitlines().index("name: cl-debug") + 1
    assert errors_of(project) == [
        f"stacks/clusters/zz-copy.yaml:{line}:7: name: cluster 'cl-debug' is also defined in "
        "stacks/clusters/cl-debug.yaml"
    ]


@pytest.mark.parametrize("folder", ["clusters", "pipelines"])
def test_a_folder_named_like_a_yaml_file(project: Path, folder: str) -> None:
    (project / "stacks" / folder / "x.yaml").mkdir()
    assert errors_of(project) == [
        f"stacks/{folder}/x.yaml:1:1: (file): is a folder, not a YAML file"
    ]


@pytest.mark.parametrize("folder", ["clusters", "pipelines"])
def test_a_broken_symbolic_link(project: Path, folder: str) -> None:
    (project / "stacks" / folder / "gone.yaml").symlink_to(project / "nowhere.yaml")
    assert errors_of(project) == [
        f"stacks/{folder}/gone.yaml:1:1: (file): is a broken symbolic link (to "
        f"{project / 'nowhere.yaml'})"
    ]


def test_the_cli_reports_a_typo_in_one_line_and_exits_2(project: Path) -> None:
    write_stack(project, STACK_HEAD + STACK_TAIL + "  lakehouse:protect: ture\n")
    result = subprocess.run(
        [sys.executable, "-m", "laktory_pulumi.cli", "validate", "--stack", "dev"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "Pulumi.dev.yaml:8:3: config.lakehouse:protect:" in result.stderr + result.stdout


def test_defaults_of_two_stacks_never_share_a_root_or_a_prefix() -> None:
    assert default_laktory_root("dev") != default_laktory_root("prod")
    assert default_name_prefix("dev") != default_name_prefix("prod")
    config = StackConfig.from_settings("lakehouse", "alice", {})
    assert (config.laktory_root, config.name_prefix) == ("/.laktory/alice/", "[alice] ")


@pytest.mark.parametrize("folder", ["clusters", "pipelines"])
def test_a_definition_file_that_is_not_utf8(project: Path, folder: str) -> None:
    (project / "stacks" / folder / "latin1.yaml").write_bytes(b"name: x\ncomment: caf\xe9\n")
    assert errors_of(project) == [
        f"stacks/{folder}/latin1.yaml:2:13: (file): byte 0xe9 is not UTF-8; save the file as UTF-8"
    ]
