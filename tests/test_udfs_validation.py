"""UDFs and transforms are checked by `laktory-pulumi validate`, without Spark or user code.

A column's `spark_func_name` must be a function of `pyspark.sql.functions` or a declared UDF; a
UDF's or a transform's module must exist in the project's `notebooks/` folder and define the
function (found with `ast`: the module is never imported). Each problem is one located line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from laktory_pulumi.cli import EXIT_INVALID, main
from laktory_pulumi.deploy.artifacts import pipeline_artifacts
from laktory_pulumi.loader import load_stack
from laktory_pulumi.local.workspace import lay_out_workspace
from laktory_pulumi.models.spark_function_names import PYSPARK_VERSION, SPARK_FUNCTIONS

PIPELINE = """\
name: pl-udfs
udfs:
  - module_name: stock_functions
    function_name: spread
libraries:
  - notebook:
      path: /pipelines/dlt_brz_template.py
  - notebook:
      path: /pipelines/dlt_slv_template.py
tables:
  - name: brz_prices
    builder:
      layer: BRONZE
      event_source:
        name: stock_price
        producer:
          name: yahoo-finance
  - name: slv_prices
    builder:
      layer: SILVER
      table_source:
        name: brz_prices
    transform:
      module_name: stock_transforms
      function_name: with_mid
    columns:
      - name: symbol
        type: string
        spark_func_name: upper
        spark_func_args: [data.symbol]
      - name: spread
        type: double
        spark_func_name: spread
        spark_func_args: [data.high, data.low]
"""

FUNCTIONS = """\
from pyspark.sql import functions as F


def spread(high, low):
    return F.round(high - low, 2)
"""

TRANSFORMS = """\
def with_mid(df):
    return df.withColumn("mid", df.spread / 2)
"""


def make_project(tmp_path: Path, pipeline: str = PIPELINE) -> Path:
    project = tmp_path / "project"
    (project / "stacks" / "pipelines").mkdir(parents=True)
    (project / "notebooks").mkdir()
    (project / "Pulumi.yaml").write_text("name: lakehouse\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": {}}))
    (project / "stacks" / "pipelines" / "pl-udfs.yaml").write_text(pipeline)
    notebooks = Path(__file__).parent.parent / "notebooks"
    for template in ("dlt_brz_template.py", "dlt_slv_template.py"):
        (project / "notebooks" / template).write_text((notebooks / template).read_text())
    (project / "notebooks" / "stock_functions.py").write_text(FUNCTIONS)
    (project / "notebooks" / "stock_transforms.py").write_text(TRANSFORMS)
    return project


def validate(project: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["validate", "--project", str(project), "--stack", "dev"])
    out, err = capsys.readouterr()
    return code, out, err


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line containing `fragment`."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return lines[occurrence - 1]


def one_error(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_valid_project_with_udfs_and_a_transform_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = validate(make_project(tmp_path), capsys)
    assert (code, err) == (0, "")
    assert out.startswith("ok: 1 pipeline, 2 tables")


def test_an_unknown_function_fails_at_its_line_with_close_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.replace("spark_func_name: upper", "spark_func_name: uper")
    code, _, err = validate(make_project(tmp_path, text), capsys)
    line = one_error(err)
    assert code == EXIT_INVALID
    expected = f"stacks/pipelines/pl-udfs.yaml:{line_of(text, 'uper')}:26: "
    assert line.startswith(expected + "tables[1].columns[0].spark_func_name: 'uper'"), line
    assert "neither a function of pyspark.sql.functions nor one of the pipeline's udfs" in line
    assert "upper" in line.split("close names:")[1]


def test_a_column_calling_an_undeclared_udf_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.replace("spark_func_name: spread", "spark_func_name: spreads")
    code, _, err = validate(make_project(tmp_path, text), capsys)
    line = one_error(err)
    assert code == EXIT_INVALID
    assert f":{line_of(text, 'spark_func_name: spreads')}:" in line
    assert "tables[1].columns[1].spark_func_name: 'spreads'" in line
    assert "spread" in line.split("close names:")[1]


def test_an_unknown_udf_module_fails_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.replace("module_name: stock_functions", "module_name: stock_functionz")
    code, _, err = validate(make_project(tmp_path, text), capsys)
    line = one_error(err)
    assert code == EXIT_INVALID
    assert line.startswith(
        f"stacks/pipelines/pl-udfs.yaml:{line_of(text, 'stock_functionz')}:18: "
        "udfs[0].module_name: no module 'stock_functionz'"
    ), line
    assert "notebooks/stock_functionz.py does not exist" in line


def test_a_udf_missing_from_its_module_fails_at_the_function_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.replace("function_name: spread", "function_name: sprd")
    code, _, err = validate(make_project(tmp_path, text), capsys)
    udf_line, column_line = err.splitlines()
    assert code == EXIT_INVALID
    assert f":{line_of(text, 'function_name: sprd')}:20: udfs[0].function_name:" in udf_line
    assert "module 'stock_functions' (stock_functions.py) defines no 'sprd'" in udf_line
    assert "close names: spread" in udf_line
    # The column calling `spread` now names no declared UDF either, at its own line.
    assert f":{line_of(text, 'spark_func_name: spread')}:26: " in column_line
    assert "tables[1].columns[1].spark_func_name: 'spread' is neither" in column_line


def test_an_unknown_transform_module_and_function_fail_at_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.replace("module_name: stock_transforms", "module_name: transforms")
    code, _, err = validate(make_project(tmp_path, text), capsys)
    line = one_error(err)
    assert code == EXIT_INVALID
    assert f":{line_of(text, 'module_name: transforms')}:20: " in line
    assert "tables[1].transform.module_name: no module 'transforms'" in line

    text = PIPELINE.replace("function_name: with_mid", "function_name: with_middle")
    (tmp_path / "project" / "stacks" / "pipelines" / "pl-udfs.yaml").write_text(text)
    code, _, err = validate(tmp_path / "project", capsys)
    line = one_error(err)
    assert code == EXIT_INVALID
    assert f":{line_of(text, 'with_middle')}:22: tables[1].transform.function_name:" in line
    assert "close names: with_mid" in line


def test_a_module_that_does_not_parse_fails_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path)
    (project / "notebooks" / "stock_transforms.py").write_text("def with_mid(df:\n")
    code, _, err = validate(project, capsys)
    line = one_error(err)
    assert code == EXIT_INVALID
    assert "tables[1].transform.module_name: module 'stock_transforms' does not parse" in line


def test_functions_assigned_or_imported_at_top_level_count_as_defined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path)
    (project / "notebooks" / "stock_functions.py").write_text(
        "from pyspark.sql.functions import round as spread\n"
    )
    (project / "notebooks" / "stock_transforms.py").write_text("with_mid = lambda df: df\n")
    code, _, err = validate(project, capsys)
    assert (code, err) == (0, "")


def test_a_udf_in_the_workspace_is_not_looked_for_locally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.replace(
        "    function_name: spread\n",
        "    function_name: spread\n    module_path: /Shared/udfs\n",
        1,
    ).replace("module_name: stock_functions", "module_name: shared_functions")
    code, _, err = validate(make_project(tmp_path, text), capsys)
    assert (code, err) == (0, "")


def test_the_committed_function_names_match_the_installed_pyspark() -> None:
    pytest.importorskip("pyspark")
    from laktory_pulumi.models.spark_function_names import installed_spark_functions

    version, names = installed_spark_functions()
    regenerate = "regenerate: python -m laktory_pulumi.models.spark_function_names --write"
    assert version == PYSPARK_VERSION, regenerate
    assert names == SPARK_FUNCTIONS, regenerate
    assert {"coalesce", "upper", "window"} <= SPARK_FUNCTIONS
    assert "cast" not in SPARK_FUNCTIONS  # imported from typing by the module, not a function


def test_modules_are_deployed_next_to_the_notebooks_as_files(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    pipeline = load_stack(project, "dev").pipelines["pl-udfs"]
    artifacts = {a.key: a for a in pipeline_artifacts(pipeline, project / "notebooks")}

    functions = artifacts["module/stock_functions"]
    assert functions.kind == "file"
    assert functions.workspace_path == "/.laktory/pipelines/pl-udfs/stock_functions.py"
    assert functions.content == FUNCTIONS.encode()
    assert artifacts["module/stock_transforms"].content == TRANSFORMS.encode()

    workspace = lay_out_workspace(tmp_path / "ws", pipeline, project / "notebooks", "/.laktory/")
    laid = tmp_path / "ws" / ".laktory" / "pipelines" / "pl-udfs" / "stock_functions.py"
    assert laid.read_text() == FUNCTIONS
    # Modules are imported by the notebooks, never run as pipeline source files.
    assert [path.name for path in workspace.notebooks] == [
        "dlt_brz_template.py",
        "dlt_slv_template.py",
    ]


def test_notebooks_import_modules_from_where_the_deploy_puts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from laktory_pulumi.runtime import dlt
    from laktory_pulumi.runtime.udfs import modules_folder, workspace_folder

    project = make_project(tmp_path)
    pipeline = load_stack(project, "dev").pipelines["pl-udfs"]
    deployed = next(a for a in pipeline_artifacts(pipeline, project / "notebooks")
                    if a.key == "module/stock_functions")  # fmt: skip
    # On Databricks: /Workspace + the deployed workspace path's folder.
    monkeypatch.setattr(dlt, "spark", None)
    monkeypatch.delenv("LAKTORY_WORKSPACE_ROOT", raising=False)
    monkeypatch.delenv("LAKTORY_ROOT", raising=False)
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    folder = modules_folder(pipeline)
    assert folder / "stock_functions.py" == Path("/Workspace" + deployed.workspace_path)
    # Laktory's module_path is a workspace folder, written with or without /Workspace.
    assert workspace_folder("/Workspace/Shared/udfs") == Path("/Workspace/Shared/udfs")
    assert workspace_folder("/Shared/udfs") == Path("/Workspace/Shared/udfs")


def test_two_udfs_with_one_function_name_are_ambiguous(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.replace(
        "    function_name: spread\n",
        "    function_name: spread\n  - module_name: stock_transforms\n    function_name: spread\n",
        1,
    )
    project = make_project(tmp_path, text)
    (project / "notebooks" / "stock_transforms.py").write_text(TRANSFORMS + "spread = None\n")
    code, _, err = validate(project, capsys)
    line = one_error(err)
    assert code == EXIT_INVALID
    assert ":6:20: udfs[1].function_name: a column calls a UDF by its function name" in line


def test_a_module_named_like_another_projects_is_imported_from_its_own_folder(
    tmp_path: Path,
) -> None:
    """Python caches modules by name: in one process (a test session, `validate --deep` of
    pipelines deployed to their own folders) the second project's `fns_shared` was the first's,
    and its function was missing (seen in the full suite, worker order dependent)."""
    from laktory_pulumi.models import Pipeline
    from laktory_pulumi.models.udf import FunctionRef
    from laktory_pulumi.runtime.udfs import import_function, modules_from_source

    pipeline = Pipeline.model_validate({"name": "p"})
    for project, function in (("a", "first"), ("b", "second"), ("a", "first")):
        folder = tmp_path / project
        folder.mkdir(exist_ok=True)
        (folder / "fns_shared.py").write_text(f"def {function}():\n    return '{project}'\n")
        with modules_from_source(folder):
            found = import_function(
                FunctionRef(module_name="fns_shared", function_name=function), pipeline
            )
        assert found() == project
