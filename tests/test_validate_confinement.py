"""Names and paths stay in their folders: a hostile one is refused before anything is written.

A pipeline named `..` used to put its metadata one folder up, and a library `/pipelines/../x.py`
uploaded (and `run` laid out) a file from outside `notebooks/`. Both are located errors now, so
`run` stops at validation, before it creates its state folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_deploy_support import copy_project

from laktory_pulumi.cli import EXIT_INVALID, main

NAME = "pl-stock-prices"


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (f"name: {NAME}", "name: ..", "name"),
        (
            "path: /pipelines/dlt_slv_template.py",
            "path: /pipelines/../notebooks/dlt_slv_template.py",
            "libraries[1].notebook.path",
        ),
        (
            "path: /pipelines/dlt_slv_template.py",
            "path: /pipelines/../../escape.py",
            "libraries[1].notebook.path",
        ),
    ],
)
def test_run_refuses_a_hostile_name_or_path_before_writing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, field: str
) -> None:
    project = copy_project(tmp_path / "project")
    definition = project / "stacks" / "pipelines" / f"{NAME}.yaml"
    text = definition.read_text()
    assert old in text
    definition.write_text(text.replace(old, new, 1))
    (tmp_path / "landing").mkdir()
    before = snapshot(tmp_path)

    code = main(
        [
            "run",
            ".." if new == "name: .." else NAME,
            "--project",
            str(project),
            "--landing",
            str(tmp_path / "landing"),
            "--state",
            str(tmp_path / "state"),
        ]
    )

    err = capsys.readouterr().err
    assert code == EXIT_INVALID
    assert f"stacks/pipelines/{NAME}.yaml:" in err and f": {field}: " in err
    assert snapshot(tmp_path) == before, "nothing may be written"


def test_a_notebook_symlink_out_of_the_notebooks_folder_is_refused(tmp_path: Path) -> None:
    from laktory_pulumi.loader import LoadError, load_pipeline_file

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    outside = tmp_path / "secret.py"
    outside.write_text("print('not a notebook of this project')\n")
    (notebooks / "linked.py").symlink_to(outside)
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nlibraries:\n  - notebook: {path: /pipelines/linked.py}\n")
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, {}, notebooks_dir=notebooks)
    assert [e.field for e in caught.value.errors] == ["libraries[0].notebook.path"]


def test_the_loader_and_the_deploy_agree_on_which_libraries_are_local() -> None:
    from laktory_pulumi.deploy import artifacts
    from laktory_pulumi.loader import libraries

    assert libraries.LOCAL_NOTEBOOK_PREFIX == artifacts.LOCAL_NOTEBOOK_PREFIX
