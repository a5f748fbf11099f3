"""docs/reference.md: generated from the models, complete, and never stale."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from laktory_pulumi.docs import REFERENCE, documented_models, main, reference_markdown
from laktory_pulumi.schema import schema_text

REPO = Path(__file__).resolve().parents[1]


@functools.cache
def reference() -> str:
    return reference_markdown()


def section(name: str) -> str:
    """The text of one model's section of the reference."""
    text = reference()
    start = text.index(f"\n## {name}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def row(model: str, field: str) -> list[str]:
    """The cells of one field's row."""
    for line in section(model).splitlines():
        if line.startswith(f"| `{field}` |"):
            return [cell.strip() for cell in line.strip("|").split(" | ")]
    raise AssertionError(f"no row for {model}.{field}")


def test_the_committed_reference_is_up_to_date() -> None:
    assert REFERENCE == REPO / "docs" / "reference.md"
    assert REFERENCE.exists(), "run `python -m laktory_pulumi.docs` to create docs/reference.md"
    assert REFERENCE.read_text() == reference_markdown(), (
        "docs/reference.md is stale: run `python -m laktory_pulumi.docs`"
    )


def test_every_model_of_a_yaml_file_has_a_section() -> None:
    in_schemas = {"Pipeline", "Cluster"}
    for kind in ("pipeline", "cluster"):
        in_schemas |= set(json.loads(schema_text(kind)).get("$defs", {}))
    # Bases whose fields are folded into their subclasses have no section of their own.
    in_schemas -= {"ClusterSpec", "ColumnExpression", "Principal"}
    documented = {model.__name__ for model in documented_models()}
    assert documented == in_schemas
    text = reference_markdown()
    for name in documented:
        assert f"\n## {name}\n" in text
        assert f"- [{name}](#{name.lower()})" in text


@pytest.mark.parametrize("model", documented_models(), ids=lambda model: model.__name__)
def test_every_field_has_a_row_with_its_description(model: type) -> None:
    for name, field in model.model_fields.items():
        cells = row(model.__name__, name)
        assert len(cells) == 4, cells
        assert cells[3] == field.description.replace("|", "\\|")


def test_a_row_shows_type_default_and_constraints() -> None:
    assert row("Expectation", "action")[1:3] == ["one of `WARN`, `DROP`, `FAIL`", "`WARN`"]
    assert row("Expectation", "name")[1:3] == ["string (non-empty)", "required"]
    assert row("Autoscale", "min_workers")[1:3] == ["integer (≥ 0)", "required"]
    assert row("Column", "type")[1] == "Spark SQL type"
    assert row("Table", "builder")[1] == "[TableBuilder](#tablebuilder)"
    assert row("Table", "columns")[1:3] == ["list of [Column](#column)", "`[]`"]
    assert row("Table", "quarantine")[2] == "`false`"
    assert row("Pipeline", "catalog")[1:3] == ["string", "—"]
    assert row("Table", "name")[1] == "string (non-empty, matches `^[A-Za-z_][A-Za-z0-9_]*$`)"


def test_a_shared_base_lends_its_text_to_the_section() -> None:
    assert "exactly one of a group, a user or a service principal" in section("PipelinePermission")


def test_check_fails_on_a_stale_file_and_writing_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "docs" / "reference.md"
    assert main(["--check", "--output", str(output)]) == 1
    assert "python -m laktory_pulumi.docs" in capsys.readouterr().err
    assert main(["--output", str(output)]) == 0
    assert output.read_text() == reference_markdown()
    assert main(["--check", "--output", str(output)]) == 0
    output.write_text(output.read_text().replace("Fewest workers.", "Fewest."))
    assert main(["--check", "--output", str(output)]) == 1
