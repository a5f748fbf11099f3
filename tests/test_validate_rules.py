"""Rules against silent overwrites, silent no-ops and names Databricks rejects (issue #12).

Each finding has its file in tests/data/invalid (checked there for its exact line and field by
test_loader_errors.py); the tests here name the finding and check what the rule says, and that
the valid neighbour of each case still loads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from laktory_pulumi.loader import LoadError, LocatedError, load_pipeline_file, load_stack
from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime.tables import changes_view_name

REPO = Path(__file__).resolve().parent.parent

INVALID = Path(__file__).parent / "data" / "invalid"


def only_error(name: str) -> LocatedError:
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(INVALID / name, {})
    assert len(caught.value.errors) == 1, caught.value.errors
    return caught.value.errors[0]


SILVER_LIBRARY = "libraries: [{notebook: {path: /pipelines/dlt_slv_template.py}}]\n"
"""The library line of a file whose tables are all silver."""


def loads(tmp_path: Path, text: str) -> Pipeline:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return load_pipeline_file(path, {})


def test_two_expectations_with_one_name_are_refused() -> None:
    error = only_error("duplicate_expectation.yaml")
    assert (error.line, error.field) == (9, "tables[0].expectations[1].name")
    assert "declared twice" in error.message


def test_two_columns_with_one_name_are_refused_whatever_their_case() -> None:
    error = only_error("duplicate_column.yaml")
    assert (error.line, error.field) == (9, "tables[0].columns[1].name")


def test_a_table_named_like_another_tables_quarantine_is_refused() -> None:
    error = only_error("quarantine_name_collision.yaml")
    assert error.field == "tables[0].quarantine"
    assert "slv_prices_quarantine" in error.message


def test_a_table_named_like_a_cdc_change_view_is_refused() -> None:
    error = only_error("changes_view_collision.yaml")
    assert error.field == "tables[0].builder.table_source.cdc"
    assert "slv_accounts_changes" in error.message


def test_the_runtime_and_the_rules_share_one_generated_name(tmp_path: Path) -> None:
    pipeline = loads(
        tmp_path,
        "name: p\n" + SILVER_LIBRARY + "tables:\n  - name: a\n    builder:\n      layer: SILVER\n"
        "      table_source: {name: c.s.t, cdc: {primary_keys: [id], sequence_by: ts}}\n",
    )
    table = pipeline.tables[0]
    assert changes_view_name(table) == table.changes_view_name == "a_changes"
    assert [name for name, _, _ in table.generated_datasets] == ["a_changes"]


def test_quarantine_where_no_quarantine_table_is_built_is_refused() -> None:
    error = only_error("quarantine_on_gold.yaml")
    assert error.field == "tables[0].quarantine"
    assert error.message.startswith("quarantine is not built")


def test_a_cdc_quarantine_without_a_drop_rule_or_one_sequence_column_is_refused() -> None:
    # A struct of several sequence columns is never NULL: no rule would send a change there.
    error = only_error("quarantine_on_cdc.yaml")
    assert (error.line, error.field) == (9, "tables[0].quarantine")
    assert "needs at least one expectation with action DROP" in error.message


def test_quarantine_on_a_plain_silver_table_still_loads(tmp_path: Path) -> None:
    pipeline = loads(
        tmp_path,
        "name: p\n" + SILVER_LIBRARY + "tables:\n  - name: a\n    quarantine: true\n    builder:\n"
        "      layer: SILVER\n      table_source: {name: c.s.t}\n"
        "    expectations: [{name: r, expression: x > 0, action: DROP}]\n",
    )
    assert pipeline.tables[0].generated_datasets[0][0] == "a_quarantine"


def test_empty_libraries_with_tables_are_refused() -> None:
    error = only_error("libraries_empty_with_tables.yaml")
    assert (error.line, error.field) == (2, "libraries")


@pytest.mark.parametrize(
    ("name", "field", "words"),
    [
        ("name_catalog_space.yaml", "catalog", "a space"),
        ("name_target_dot.yaml", "target", "a period"),
        ("name_column_backtick.yaml", "tables[0].columns[0].name", "a backtick"),
        ("name_table_too_long.yaml", "tables[0].name", "at most 255"),
    ],
)
def test_names_unity_catalog_rejects_are_refused(name: str, field: str, words: str) -> None:
    error = only_error(name)
    assert error.field == field
    assert words in error.message


def test_a_cluster_label_other_than_default_or_maintenance_is_refused(tmp_path: Path) -> None:
    error = only_error("cluster_label_unknown.yaml")
    assert (error.line, error.field) == (5, "clusters[1].name")
    text = "name: p\nclusters:\n  - {name: default}\n  - {name: maintenance}\n"
    assert [c.name for c in loads(tmp_path, text).clusters] == ["default", "maintenance"]


def test_a_relative_notebook_path_is_refused() -> None:
    error = only_error("library_relative_path.yaml")
    assert error.field == "libraries[0].notebook.path"
    assert "relative" in error.message


def test_an_empty_expectation_expression_is_refused() -> None:
    error = only_error("expectation_empty_expression.yaml")
    assert error.field == "tables[0].expectations[0].expression"


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("pipeline_name_dotdot.yaml", "name"),
        ("event_producer_dotdot.yaml", "tables[0].builder.event_source.producer.name"),
        ("library_path_escapes.yaml", "libraries[0].notebook.path"),
    ],
)
def test_names_and_paths_that_leave_their_folder_are_refused(name: str, field: str) -> None:
    assert only_error(name).field == field


def test_a_pipeline_read_back_from_its_metadata_needs_no_libraries_written() -> None:
    # The metadata file is read without the loader: only a YAML file without libraries (or
    # with `libraries: []`) is refused, never a model whose list is empty.
    from laktory_pulumi.metadata import metadata_bytes

    pipeline = Pipeline.model_validate(
        {
            "name": "p",
            "tables": [
                {"name": "a", "builder": {"layer": "SILVER", "table_source": {"name": "c.s.t"}}}
            ],
        }
    )
    assert pipeline.libraries == []
    assert Pipeline.model_validate_json(metadata_bytes(pipeline)) == pipeline


def test_a_column_named_like_a_system_column_is_refused() -> None:
    error = only_error("column_named_like_a_system_column.yaml")
    assert (error.line, error.field) == (9, "tables[0].columns[1].name")
    assert "the runtime adds itself" in error.message


def test_the_rules_know_every_system_column_of_the_runtime() -> None:
    from laktory_pulumi.models.names import SYSTEM_COLUMNS
    from laktory_pulumi.runtime import builders, expectations, quarantine

    runtime = {builders.BRONZE_AT, builders.SILVER_AT, builders.GOLD_AT, builders.TSTAMP}
    quarantined = {expectations.FAILED_EXPECTATIONS_COLUMN, quarantine.FLOW_COLUMN}
    assert set(SYSTEM_COLUMNS) == {*runtime, *quarantined}


def test_a_template_copy_that_still_names_the_original_fails_at_the_table(tmp_path: Path) -> None:
    # A copy of the silver template under another name, NOTEBOOK left as the original's: it
    # would build the generic template's tables and never the one whose template names it.
    project = tmp_path / "project"
    shutil.copytree(REPO / "notebooks", project / "notebooks")
    template = (REPO / "notebooks" / "dlt_slv_template.py").read_text()
    (project / "notebooks" / "my_silver.py").write_text(template)
    for file in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copyfile(REPO / file, project / file)
    pipelines = project / "stacks" / "pipelines"
    pipelines.mkdir(parents=True)
    text = (REPO / "stacks" / "pipelines" / "pl-stock-prices.yaml").read_text()
    text = text.replace(
        "      path: /pipelines/dlt_slv_template.py",
        "      path: /pipelines/dlt_slv_template.py\n  - notebook:\n      path: /pipelines/my_silver.py",
    ).replace(
        "      layer: SILVER\n      drop_duplicates",
        "      layer: SILVER\n      template: my_silver\n      drop_duplicates",
    )
    (pipelines / "pl-stock-prices.yaml").write_text(text)
    with pytest.raises(LoadError) as raised:
        load_stack(project, "dev")
    (error,) = raised.value.errors
    assert error.field.endswith(".builder.template")
    assert "sets NOTEBOOK = 'dlt_slv_template'" in error.message
    # Named after itself, the copy builds the table: the file validates.
    (project / "notebooks" / "my_silver.py").write_text(
        template.replace('NOTEBOOK = "dlt_slv_template"', 'NOTEBOOK = "my_silver"')
    )
    assert load_stack(project, "dev").pipelines["pl-stock-prices"]


def test_tables_without_a_libraries_key_are_refused_naming_the_notebooks() -> None:
    error = only_error("libraries_omitted_with_tables.yaml")
    assert (error.line, error.column, error.field) == (2, 1, "tables")
    assert "/pipelines/dlt_brz_template.py, /pipelines/dlt_slv_template.py" in error.message


def test_a_file_without_tables_needs_no_libraries(tmp_path: Path) -> None:
    assert loads(tmp_path, "name: p\n").tables == []
