"""UDF and transform modules are confined to the project as notebooks are (issue #23).

A module symlinked to a file outside the project, or a `module_path` climbing out with `..`,
fails validation at its line, and nothing is planned for upload.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_udfs_validation import PIPELINE, make_project, validate


def _line_of(text: str, needle: str) -> int:
    return text.split(needle, 1)[0].count("\n") + 1


@pytest.mark.parametrize(
    ("module", "field"),
    [("stock_functions", "udfs[0].module_name"), ("stock_transforms", "transform.module_name")],
)
def test_a_module_symlinked_out_of_the_project_fails_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], module: str, field: str
) -> None:
    project = make_project(tmp_path)
    outside = tmp_path / "elsewhere" / f"{module}.py"
    outside.parent.mkdir()
    module_file = project / "notebooks" / f"{module}.py"
    outside.write_text(module_file.read_text())  # a valid module, only its place is wrong
    module_file.unlink()
    module_file.symlink_to(outside)
    code, _, err = validate(project, capsys)
    assert code == 2
    (error,) = err.strip().splitlines()
    line = _line_of(PIPELINE, f"module_name: {module}")
    assert error.startswith(f"stacks/pipelines/pl-udfs.yaml:{line}:"), error
    assert field in error and "outside the project's notebooks/ folder" in error


def test_a_module_folder_symlinked_out_of_the_project_fails_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "prices.py").write_text((project / "notebooks" / "stock_functions.py").read_text())
    (project / "notebooks" / "udfs").symlink_to(outside, target_is_directory=True)
    text = PIPELINE.replace("module_name: stock_functions", "module_name: udfs.prices", 1)
    (project / "stacks" / "pipelines" / "pl-udfs.yaml").write_text(text)
    code, _, err = validate(project, capsys)
    assert code == 2 and "outside the project's notebooks/ folder" in err


def test_a_module_path_climbing_out_fails_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.replace(
        "    function_name: spread\n",
        "    function_name: spread\n    module_path: /Shared/../../etc\n",
        1,
    )
    code, _, err = validate(make_project(tmp_path, text), capsys)
    assert code == 2
    (error,) = err.strip().splitlines()
    assert error.startswith(f"stacks/pipelines/pl-udfs.yaml:{_line_of(text, 'module_path')}:")
    assert "udfs[0].module_path" in error and "climbs out with '..'" in error
