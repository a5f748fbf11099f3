"""Every invalid file of tests/data/invalid gives one located error, the one EXPECTED.yaml names.

Each file is loaded twice: by `load_pipeline_file`, and by `laktory-pulumi validate` on a
Pulumi project holding only that file, which must print the same line, exit 2, show no
traceback and write nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from laktory_pulumi.cli import EXIT_INVALID, main
from laktory_pulumi.loader import LoadError, LocatedError, load_pipeline_file

INVALID = Path(__file__).parent / "data" / "invalid"
NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
"""The repository's notebooks: library paths of the corpus are checked against them."""
EXPECTED: dict[str, dict] = yaml.safe_load((INVALID / "EXPECTED.yaml").read_text())
FILES = sorted(path.name for path in INVALID.glob("*.yaml") if path.name != "EXPECTED.yaml")

VARIABLES = {
    "catalog": "dev",
    "landing_root": "/tmp/landing",
    "workers": 2,
    "self_ref": "${vars.self_ref}",  # variable_self_reference.yaml
    "nothing": None,  # variable_null_in_text.yaml
    "mapping": {"a": 1},  # variable_mapping_in_text.yaml
}
UNDEFINED_ENV = "LAKTORY_TEST_UNDEFINED_TARGET"  # what variable_undefined_env.yaml reads


@pytest.fixture(autouse=True)
def _undefined_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UNDEFINED_ENV, raising=False)


def project_with(tmp_path: Path, name: str, text: str | bytes) -> Path:
    """A Pulumi project whose dev stack has VARIABLES, whose one pipeline file is `text`, and
    whose notebooks are the repository's."""
    project = tmp_path / "project"
    (project / "stacks" / "pipelines").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: lakehouse\nruntime: python\n")
    config = {"config": {"lakehouse:vars": VARIABLES}}
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config))
    data = text.encode() if isinstance(text, str) else text
    (project / "stacks" / "pipelines" / name).write_bytes(data)
    (project / "notebooks").symlink_to(NOTEBOOKS, target_is_directory=True)
    return project


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under `folder`."""
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


def expected_line(file: str, name: str) -> str:
    want = EXPECTED[name]
    return f"{file}:{want['line']}:{want['column']}: {want['field']}: "


def test_there_are_enough_invalid_files_and_each_has_one_expectation() -> None:
    assert len(FILES) >= 45
    assert sorted(EXPECTED) == FILES, "EXPECTED.yaml and the invalid files must match one to one"
    for name, want in EXPECTED.items():
        assert set(want) == {"line", "column", "field", "message"}, name
        assert want["line"] >= 1 and want["column"] >= 1, name


@pytest.mark.parametrize("name", FILES)
def test_the_loader_locates_the_one_problem(name: str) -> None:
    path = INVALID / name
    want = EXPECTED[name]
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, VARIABLES, notebooks_dir=NOTEBOOKS)
    errors = caught.value.errors
    assert len(errors) == 1, "each invalid file has one problem:\n" + "\n".join(map(str, errors))
    error = errors[0]
    assert (error.file, error.line, error.column, error.field) == (
        str(path),
        want["line"],
        want["column"],
        want["field"],
    ), str(error)
    assert want["message"] in error.message
    assert str(error).startswith(expected_line(str(path), name))


@pytest.mark.parametrize("name", FILES)
def test_validate_prints_the_located_line_and_exits_2(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(tmp_path, name, (INVALID / name).read_bytes())
    before = snapshot(tmp_path)

    code = main(["validate", "--project", str(project), "--stack", "dev"])

    out, err = capsys.readouterr()
    assert code == EXIT_INVALID == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(expected_line(f"stacks/pipelines/{name}", name)), lines[0]
    assert EXPECTED[name]["message"] in lines[0]
    assert snapshot(tmp_path) == before, "validate must not write anything"


def test_debug_shows_the_traceback_as_well(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "enum_layer.yaml"
    project = project_with(tmp_path, name, (INVALID / name).read_text())
    code = main(["--debug", "validate", "--project", str(project), "--stack", "dev"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" in err
    assert expected_line(f"stacks/pipelines/{name}", name) in err


def test_every_problem_of_a_file_is_reported_in_file_order(tmp_path: Path) -> None:
    text = (
        (INVALID / "enum_layer.yaml")
        .read_text()
        .replace("name: events", "name: events\n" + " " * 8 + "format: JSNO")
    )
    path = tmp_path / "two.yaml"
    path.write_text("tabels: []\n" + text)
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, VARIABLES)
    assert [(e.line, e.field) for e in caught.value.errors] == [
        (1, "tabels"),
        (6, "tables[0].builder.layer"),
        (9, "tables[0].builder.event_source.format"),
    ]


def test_a_stack_reports_the_problems_of_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(tmp_path, "a.yaml", (INVALID / "enum_layer.yaml").read_text())
    broken = (INVALID / "spark_type_misspelt.yaml").read_text()
    (project / "stacks" / "pipelines" / "b.yaml").write_text(broken)
    assert main(["validate", "--project", str(project), "--stack", "dev"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        "stacks/pipelines/a.yaml:5:14",
        "stacks/pipelines/b.yaml:10:15",
    ]


@pytest.mark.parametrize(
    ("name", "variables", "environ", "field", "value"),
    [
        ("variable_undefined_vars.yaml", {"catalg": "dev"}, {}, "catalog", "dev"),
        ("variable_undefined_env.yaml", {}, {UNDEFINED_ENV: "finance"}, "target", "finance"),
    ],
)
def test_a_file_failing_on_a_variable_loads_once_it_is_defined(
    name: str,
    variables: dict,
    environ: dict,
    field: str,
    value: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, text in environ.items():
        monkeypatch.setenv(key, text)
    pipeline = load_pipeline_file(INVALID / name, variables)
    assert getattr(pipeline, field) == value


def test_a_located_error_reads_file_line_column_field_message() -> None:
    error = LocatedError("stacks/pipelines/p.yaml", 41, 15, "tables[1].columns[2].type", "bad")
    assert str(error) == "stacks/pipelines/p.yaml:41:15: tables[1].columns[2].type: bad"


def test_a_missing_stack_is_a_located_error_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_with(tmp_path, "p.yaml", "name: pl-test\n")
    assert main(["validate", "--project", str(project), "--stack", "prod"]) == 2
    err = capsys.readouterr().err
    assert err == "Pulumi.prod.yaml:1:1: (file): no stack 'prod'; stacks here: dev\n"
