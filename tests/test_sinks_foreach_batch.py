"""`foreach_batch` sinks (issue #20 Build item 4): the model, its validation at the line, the
handler's module deployed with the pipeline, and the sink in the graph. No Spark.

The handler's module is checked in the project's own `notebooks/` (a real folder here, never
the repository's), as `validate` checks UDFs and transforms: found with `ast`, never imported.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from laktory_pulumi.cli import EXIT_INVALID, main
from laktory_pulumi.graph.mermaid import mermaid
from laktory_pulumi.graph.model import build_graph
from laktory_pulumi.loader import load_pipeline_file

REPO = Path(__file__).resolve().parent.parent

PIPELINE = """\
name: pl-fb
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
tables:
  - name: brz_orders
    builder:
      layer: BRONZE
      event_source: {name: order, producer: {name: shop}, schema_ddl: "id INT"}
sinks:
  - name: orders_handled
    table: brz_orders
    format: foreach_batch
    function: {module_name: handlers, function_name: handle}
    where: "id IS NOT NULL"
"""

HANDLERS = "def handle(df, batch_id):\n    df.write.mode('overwrite').json(f'/x/{batch_id}')\n"


def project(tmp_path: Path, handlers: str, pipeline: str = PIPELINE) -> Path:
    """A Pulumi project whose notebooks folder holds the bronze template and `handlers.py`."""
    root = tmp_path / "project"
    (root / "stacks" / "pipelines").mkdir(parents=True)
    for file in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copyfile(REPO / file, root / file)
    (root / "stacks" / "pipelines" / "pl-fb.yaml").write_text(pipeline)
    notebooks = root / "notebooks"
    notebooks.mkdir()
    shutil.copyfile(REPO / "notebooks" / "dlt_brz_template.py", notebooks / "dlt_brz_template.py")
    (notebooks / "handlers.py").write_text(handlers)
    return root


def validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["validate", "--project", str(root), "--stack", "dev"])
    _out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, err


def one_error(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(line, field, message) of the one located line of `validate` (exit 2)."""
    code, err = validate(root, capsys)
    assert code == EXIT_INVALID, err
    (line,) = err.splitlines()
    file, number, _column, field, message = line.split(":", 4)
    assert file == "stacks/pipelines/pl-fb.yaml"
    return int(number), field.strip(), message.strip()


def line_of(fragment: str) -> int:
    return next(n for n, line in enumerate(PIPELINE.splitlines(), 1) if fragment in line)


def test_a_foreach_batch_sink_with_its_handler_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, HANDLERS)
    code, err = validate(root, capsys)
    assert code == 0, err
    pipeline = load_pipeline_file(root / "stacks" / "pipelines" / "pl-fb.yaml", {})
    (sink,) = pipeline.sinks
    assert (sink.format, sink.function.module_name, sink.function.function_name) == (
        "foreach_batch",
        "handlers",
        "handle",
    )
    assert sink.flow_name == "orders_handled_flow" and sink.selected is None
    # The handler's module is deployed next to the notebooks, as UDF and transform modules are.
    assert [ref.module_name for ref in pipeline.project_modules()] == ["handlers"]


@pytest.mark.parametrize(
    "handlers",
    [
        "def handle(df, batch_id, spark):\n    pass\n",
        "def handle(df, batch_id=0, *, mode):\n    pass\n",
    ],
)
def test_the_handler_must_be_callable_with_df_and_batch_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], handlers: str
) -> None:
    line, field, message = one_error(project(tmp_path, handlers), capsys)
    assert (line, field) == (line_of("function_name: handle"), "sinks[0].function.function_name")
    assert "handlers.handle (handlers.py:1) takes (df, batch_id" in message
    assert "a foreach_batch handler is called handler(df, batch_id)" in message


@pytest.mark.parametrize(
    "handlers",
    [
        "def handle(df, batch_id):\n    pass\n",
        "def handle(df, batch_id, retries=3):\n    pass\n",
        "def handle(*args):\n    pass\n",
        "def handle(df, /, batch_id, **options):\n    pass\n",
        "import functools\n\n\n@functools.cache\ndef handle(df):\n    pass\n",  # not checked
        "from other_package import handle\n",  # bound by an import: not checked
    ],
)
def test_what_can_be_called_with_df_and_batch_id_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], handlers: str
) -> None:
    code, err = validate(project(tmp_path, handlers), capsys)
    assert code == 0, err


def test_an_async_handler_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    handlers = "async def handle(df, batch_id):\n    pass\n"
    _line, field, message = one_error(project(tmp_path, handlers), capsys)
    assert field == "sinks[0].function.function_name"
    assert "is async" in message


def test_a_handler_the_module_does_not_define_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line, field, message = one_error(project(tmp_path, "def handled(df, batch_id): ...\n"), capsys)
    assert (line, field) == (line_of("function_name: handle"), "sinks[0].function.function_name")
    assert "module 'handlers' (handlers.py) defines no 'handle'; close names: handled" in message


def test_a_handler_module_the_project_lacks_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = PIPELINE.replace("module_name: handlers", "module_name: handler_module")
    _line, field, message = one_error(project(tmp_path, HANDLERS, pipeline), capsys)
    assert field == "sinks[0].function.module_name"
    assert "no module 'handler_module'" in message


def test_a_local_format_is_refused_for_a_foreach_batch_sink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = PIPELINE + "    local_format: json\n"
    _line, field, message = one_error(project(tmp_path, HANDLERS, pipeline), capsys)
    assert field == "sinks[0].local_format"
    assert "a foreach_batch sink writes no files locally" in message


def test_the_graph_draws_a_foreach_batch_sink_fed_by_its_table(tmp_path: Path) -> None:
    root = project(tmp_path, HANDLERS)
    pipeline = load_pipeline_file(root / "stacks" / "pipelines" / "pl-fb.yaml", {})
    graph = build_graph(pipeline)
    (node,) = [node for node in graph.nodes if node.kind == "sink"]
    assert node.lines == ("orders_handled", "SINK: foreach_batch", "handlers.handle")
    (edge,) = [edge for edge in graph.edges if edge.kind == "sink"]
    assert (edge.source, edge.target) == ("tbl_brz_orders", "snk_orders_handled")
    text = mermaid(pipeline)
    assert (
        'snk_orders_handled>"orders_handled<br/>SINK: foreach_batch<br/>handlers.handle"]' in text
    )
    assert "tbl_brz_orders ==>|sink| snk_orders_handled" in text
