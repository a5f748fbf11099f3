"""Laktory's `template` (issue #18, Build 2 and the template cases of item 6; no Spark).

`template` is Laktory v0.0.22's tag (laktory/models/compute/tablebuilder.py at tag v0.0.22:
`template: Union[str, bool, None]`, set to the layer when unset), and a notebook builds the
tables of the tag it selects. lakehouse-as-code's stock pipeline (tests/data/lakehouse_as_code,
see its README.md) has `template: STOCK_PERFORMANCES` and its own notebook selecting it.
Validation still proves every table is built: a tag no generic template builds must be
selected by a library notebook's code.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from laktory_pulumi.cli import main
from laktory_pulumi.loader import LoadError, load_pipeline_file, load_stack
from laktory_pulumi.metadata import WORKSPACE_ROOT_ENV, metadata_bytes, metadata_workspace_path
from laktory_pulumi.models.builder import LAYER_TEMPLATES
from laktory_pulumi.runtime.tables import tables_of

REPO = Path(__file__).resolve().parents[1]
LAKEHOUSE = REPO / "tests" / "data" / "lakehouse_as_code"

LIBRARIES = "".join(
    f"  - notebook: {{path: /pipelines/{name}.py}}\n" for name in LAYER_TEMPLATES.values()
)
BRONZE_SILVER = """\
  - name: brz_prices
    builder:
      layer: BRONZE
      event_source: {name: price, producer: {name: p}}
  - name: slv_prices
    builder:
      layer: SILVER
      table_source: {name: brz_prices}
    columns:
      - {name: symbol, sql_expression: data.symbol}
"""
GOLD = """\
  - name: gld_prices
    builder:
      layer: GOLD
      TEMPLATE
      table_source: {name: slv_prices, read_as_stream: false}
"""


def notebooks_with(tmp_path: Path, **extra: str) -> Path:
    """The repository's notebooks, and `extra` ones (`name=source`)."""
    folder = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", folder)
    for name, source in extra.items():
        (folder / f"{name}.py").write_text(source)
    return folder


def pipeline_file(tmp_path: Path, template: str = "", libraries: str = LIBRARIES) -> Path:
    gold = GOLD.replace("TEMPLATE", template) if template else GOLD.replace("      TEMPLATE\n", "")
    path = tmp_path / "pl-test.yaml"
    path.write_text(f"name: pl-test\nlibraries:\n{libraries}tables:\n{BRONZE_SILVER}{gold}")
    return path


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def errors_of(path: Path, notebooks: Path) -> list[tuple[int, str, str]]:
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, {}, notebooks_dir=notebooks)
    return [(error.line, error.field, error.message) for error in caught.value.errors]


SELECTING = """\
from laktory_pulumi import dlt, read_metadata

pl = read_metadata(spark=spark)
for table in pl.tables:
    if table.builder.template == "STOCK_PERFORMANCES":
        dlt.table(name=table.name)(lambda: table.builder.read_source(spark))
"""


def test_a_free_form_tag_is_built_by_the_notebook_that_selects_it(tmp_path: Path) -> None:
    libraries = LIBRARIES + "  - notebook: {path: /pipelines/dlt_gld_perf.py}\n"
    path = pipeline_file(tmp_path, "template: STOCK_PERFORMANCES", libraries)
    pipeline = load_pipeline_file(
        path, {}, notebooks_dir=notebooks_with(tmp_path, dlt_gld_perf=SELECTING)
    )
    gold = pipeline.table("gld_prices").builder
    assert gold.template == gold.tag == "STOCK_PERFORMANCES"
    # No generic template builds it: the gold template's selection leaves it out.
    assert [t.name for t in tables_of(pipeline, "dlt_gld_template")] == []
    assert [t.name for t in tables_of(pipeline, "dlt_slv_template")] == ["slv_prices"]


def test_a_tag_no_library_notebook_selects_fails_at_its_line(tmp_path: Path) -> None:
    libraries = LIBRARIES + "  - notebook: {path: /pipelines/dlt_gld_perf.py}\n"
    path = pipeline_file(tmp_path, "template: STOCK_PERF", libraries)
    [(line, field, message)] = errors_of(path, notebooks_with(tmp_path, dlt_gld_perf=SELECTING))
    assert line == line_of(path, "template: STOCK_PERF")
    assert field == "tables[2].builder.template"
    assert "template 'STOCK_PERF': no notebook of the pipeline's libraries" in message
    assert "dlt_gld_perf" in message and "never be built" in message


def test_a_notebook_of_the_project_left_out_of_libraries_is_named(tmp_path: Path) -> None:
    path = pipeline_file(tmp_path, "template: dlt_my_gold")
    [(_, field, message)] = errors_of(path, notebooks_with(tmp_path, dlt_my_gold=SELECTING))
    assert field == "tables[2].builder.template"
    assert message.endswith("add /pipelines/dlt_my_gold.py (found in notebooks/) to libraries")


def test_a_comment_naming_the_tag_is_no_selection(tmp_path: Path) -> None:
    libraries = LIBRARIES + "  - notebook: {path: /pipelines/dlt_gld_perf.py}\n"
    path = pipeline_file(tmp_path, "template: STOCK_PERFORMANCES", libraries)
    commented = "# builds STOCK_PERFORMANCES one day\nx = 'STOCK_PERF'\n"
    [(_, field, _)] = errors_of(path, notebooks_with(tmp_path, dlt_gld_perf=commented))
    assert field == "tables[2].builder.template"


def test_template_false_needs_a_notebook_naming_the_table(tmp_path: Path) -> None:
    libraries = LIBRARIES + "  - notebook: {path: /pipelines/dlt_own.py}\n"
    path = pipeline_file(tmp_path, "template: false", libraries)
    naming = "import dlt\n\n@dlt.table(name='gld_prices')\ndef gld():\n    ...\n"
    pipeline = load_pipeline_file(path, {}, notebooks_dir=notebooks_with(tmp_path, dlt_own=naming))
    assert pipeline.table("gld_prices").builder.template is False
    assert tables_of(pipeline, "dlt_gld_template") == []

    other = tmp_path / "other"
    other.mkdir()
    path = pipeline_file(other, "template: false", libraries)
    [(line, field, message)] = errors_of(path, notebooks_with(other, dlt_own="x = 1\n"))
    assert (line, field) == (line_of(path, "template: false"), "tables[2].builder.template")
    assert "no notebook of the pipeline's libraries (dlt_brz_template" in message
    assert "names 'gld_prices'" in message


def test_a_file_from_before_templates_is_accepted(tmp_path: Path) -> None:
    """A gold table built by its own notebook, without the gold template among libraries."""
    libraries = (
        "  - notebook: {path: /pipelines/dlt_brz_template.py}\n"
        "  - notebook: {path: /pipelines/dlt_slv_template.py}\n"
        "  - notebook: {path: /pipelines/dlt_gld_prices.py}\n"
    )
    own = "import dlt\n\n@dlt.table(name='gld_prices')\ndef gld():\n    ...\n"
    path = pipeline_file(tmp_path, libraries=libraries)
    pipeline = load_pipeline_file(
        path, {}, notebooks_dir=notebooks_with(tmp_path, dlt_gld_prices=own)
    )
    assert pipeline.table("gld_prices").builder.notebook == "dlt_gld_template"

    # The same file whose own notebook does not name the table: nothing would build it.
    other = tmp_path / "other"
    other.mkdir()
    path = pipeline_file(other, libraries=libraries)
    [(line, field, message)] = errors_of(path, notebooks_with(other, dlt_gld_prices="x = 1\n"))
    assert field == "tables[2].builder.layer"
    assert line == line_of(path, "layer: GOLD")
    assert "add /pipelines/dlt_gld_template.py to libraries" in message


def test_a_notebook_name_stays_an_extension(tmp_path: Path) -> None:
    copy = (REPO / "notebooks" / "dlt_gld_template.py").read_text()
    copy = copy.replace('NOTEBOOK = "dlt_gld_template"', 'NOTEBOOK = "dlt_my_gold"')
    libraries = LIBRARIES + "  - notebook: {path: /pipelines/dlt_my_gold.py}\n"
    path = pipeline_file(tmp_path, "template: dlt_my_gold.py", libraries)
    pipeline = load_pipeline_file(
        path, {}, notebooks_dir=notebooks_with(tmp_path, dlt_my_gold=copy)
    )
    assert [t.name for t in tables_of(pipeline, "dlt_my_gold")] == ["gld_prices"]


def test_an_unused_copy_of_a_generic_template_fails_at_its_library(tmp_path: Path) -> None:
    """Left as copied, it defines the silver tables again: PIPELINE_DUPLICATE_IDENTIFIERS."""
    copy = (REPO / "notebooks" / "dlt_slv_template.py").read_text()
    libraries = LIBRARIES + "  - notebook: {path: /pipelines/dlt_slv_copy.py}\n"
    path = pipeline_file(tmp_path, libraries=libraries)
    [(line, field, message)] = errors_of(path, notebooks_with(tmp_path, dlt_slv_copy=copy))
    assert field == "libraries[4].notebook.path"
    assert line == line_of(path, "dlt_slv_copy.py")
    assert "PIPELINE_DUPLICATE_IDENTIFIERS" in message
    assert "set NOTEBOOK = 'dlt_slv_copy'" in message


def test_an_annotated_notebook_name_is_read(tmp_path: Path) -> None:
    """`NOTEBOOK: str = "dlt_gld_template"` in a copy: its tables would never be built."""
    copy = (REPO / "notebooks" / "dlt_gld_template.py").read_text()
    copy = copy.replace('NOTEBOOK = "dlt_gld_template"', 'NOTEBOOK: str = "dlt_gld_template"')
    assert 'NOTEBOOK: str = "dlt_gld_template"' in copy
    libraries = LIBRARIES + "  - notebook: {path: /pipelines/dlt_my_gold.py}\n"
    path = pipeline_file(tmp_path, "template: dlt_my_gold", libraries)
    [(line, field, message)] = errors_of(path, notebooks_with(tmp_path, dlt_my_gold=copy))
    assert (line, field) == (line_of(path, "template: dlt_my_gold"), "tables[2].builder.template")
    assert "sets NOTEBOOK = 'dlt_gld_template'" in message


def lakehouse_project(tmp_path: Path) -> Path:
    """A project holding lakehouse-as-code's pipeline file and its own gold notebook."""
    project = tmp_path / "project"
    (project / "stacks" / "pipelines").mkdir(parents=True)
    for file in ("Pulumi.yaml", "__main__.py"):
        shutil.copyfile(REPO / file, project / file)
    # lakehouse-as-code's variables: `${var.env}` and `${var.is_dev}` (Laktory's spelling).
    (project / "Pulumi.dev.yaml").write_text(
        "config:\n  lakehouse:protect: false\n  lakehouse:vars:\n    env: dev\n    is_dev: true\n"
    )
    shutil.copyfile(
        LAKEHOUSE / "pl-stock-prices.yaml",
        project / "stacks" / "pipelines" / "pl-stock-prices.yaml",
    )
    shutil.copytree(REPO / "notebooks", project / "notebooks")
    for file in ("dlt_gld_stock_performances.py", "stock_functions.py"):
        shutil.copyfile(LAKEHOUSE / file, project / "notebooks" / file)
    return project


def test_lakehouse_as_code_stock_pipeline_validates_and_previews(tmp_path: Path) -> None:
    project = lakehouse_project(tmp_path)
    stack = load_stack(project, "dev")
    pipeline = stack.pipelines["pl-stock-prices"]
    performances = pipeline.table("gld_stock_performances").builder
    assert performances.template == "STOCK_PERFORMANCES"
    assert [t.name for t in tables_of(pipeline, "dlt_gld_template")] == ["gld_stock_prices_by_1d"]
    # Its daily aggregation streams without a watermark: valid in DLT, rewritten in full at
    # each update, which validate notes at the aggregation.
    from laktory_pulumi.analysis.recompute import recomputed_aggregations

    index = [t.name for t in pipeline.tables].index("gld_stock_prices_by_1d")
    ((path, message),) = recomputed_aggregations(pipeline)
    assert path == ("tables", index, "builder", "aggregation")
    assert "complete output mode" in message

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["preview", "--project", str(project), "--stack", "dev"]) == 0
    plan = printed.getvalue()
    assert "dlt_gld_stock_performances" in plan and "laktory:databricks:Pipeline" in plan


def test_read_metadata_gives_laktorys_notebook_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from laktory_pulumi import read_metadata
    from laktory_pulumi.runtime.models import RuntimePipeline, RuntimeTableBuilder

    pipeline = load_stack(lakehouse_project(tmp_path), "dev").pipelines["pl-stock-prices"]
    workspace = tmp_path / "workspace"
    path = workspace / metadata_workspace_path(pipeline.name).lstrip("/")
    path.parent.mkdir(parents=True)
    path.write_bytes(metadata_bytes(pipeline))
    monkeypatch.setenv(WORKSPACE_ROOT_ENV, str(workspace))

    read = read_metadata(pipeline="pl-stock-prices")
    assert isinstance(read, RuntimePipeline) and read == pipeline
    silver = read.table("slv_stock_prices")
    assert isinstance(silver.builder, RuntimeTableBuilder)
    assert silver.layer == "SILVER" and silver.builder.table is silver
    assert callable(silver.builder.read_source) and callable(silver.builder.process)
    # Laktory fills the tag with the layer: its templates select `template == "SILVER"`.
    assert [t.name for t in read.tables if t.builder.template == "SILVER"] == [
        "slv_stock_prices",
        "slv_stock_metadata",
    ]
    assert read.table("gld_stock_performances").builder.template == "STOCK_PERFORMANCES"
    # The metadata file is unchanged by the read: an unset template stays unset there.
    assert b'"template": "SILVER"' not in metadata_bytes(pipeline)
    # Columns are validated on first use; a dump of a fresh read still holds every one.
    fresh = read_metadata(pipeline="pl-stock-prices")
    dumped = json.loads(fresh.model_dump_json())["tables"]
    assert [len(t["columns"]) for t in dumped] == [len(t.columns) for t in pipeline.tables]
    assert fresh.table("slv_stock_prices").columns == pipeline.table("slv_stock_prices").columns


def test_the_models_import_nothing_of_the_runtime() -> None:
    """The runtime subclasses the models; no arrow points back (any import, even a lazy one)."""
    imported: dict[str, set[str]] = {}
    for path in (REPO / "laktory_pulumi" / "models").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = {"." * node.level + (node.module or "")}
            elif isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
            else:
                continue
            imported.setdefault(path.name, set()).update(names)
    assert imported  # the walk saw the models' imports
    upward = {file: sorted(n for n in names if "runtime" in n) for file, names in imported.items()}
    assert {file: names for file, names in upward.items() if names} == {}


def test_laktorys_cdc_flag_reads_the_source() -> None:
    from laktory_pulumi.runtime.models import RuntimePipeline

    source = {"name": "brz", "cdc": {"primary_keys": ["id"], "sequence_by": "seq"}}
    read = RuntimePipeline.model_validate_json(
        json.dumps(
            {
                "name": "pl",
                "tables": [
                    {"name": "brz", "builder": {"layer": "BRONZE", "event_source": {"name": "e"}}},
                    {"name": "slv", "builder": {"layer": "SILVER", "table_source": source}},
                ],
            }
        )
    )
    assert [(t.name, t.is_from_cdc, t.builder.is_from_cdc) for t in read.tables] == [
        ("brz", False, False),
        ("slv", True, True),
    ]
