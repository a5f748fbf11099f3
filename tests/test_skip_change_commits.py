"""`skip_change_commits` (issue #18, "Build" 5): streaming a table DLT updates and deletes in
(a CDC target, a catalog table) with Delta's `skipChangeCommits`, which "ignores transactions
that delete or modify existing records" (Databricks docs, "Delta table streaming reads and
writes"); a materialized view stays refused (rewritten at each update), at its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_local_support import make_project

from laktory_pulumi.analysis.recompute import skipped_changes_read_whole
from laktory_pulumi.cli import main
from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime.readers import read_table_source

PIPELINE = """\
name: pl-skip
catalog: dev
target: crm
libraries:
  - notebook: {path: /pipelines/dlt_brz_template.py}
  - notebook: {path: /pipelines/dlt_slv_template.py}
tables:
  - name: brz_customers
    builder:
      layer: BRONZE
      event_source: {name: customers, schema_ddl: "id INT, name STRING, ts BIGINT"}
  - name: slv_customers
    builder:
      layer: SILVER
      table_source:
        name: brz_customers
        cdc: {primary_keys: [id], sequence_by: ts}
    columns:
      - {name: id, type: int, sql_expression: id}
      - {name: name, type: string, sql_expression: name}
      - {name: ts, type: bigint, sql_expression: ts}
  - name: slv_customer_names
    builder:
      layer: SILVER
      table_source: {name: slv_customers, skip_change_commits: true}
    columns:
      - {name: name, type: string, sql_expression: name}
"""


def _validate(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    project = make_project(tmp_path / "project", text, "pl-skip")
    code = main(["validate", "--project", str(project), "--stack", "dev"])
    out, err = capsys.readouterr()
    return code, out, err


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_a_cdc_target_streams_with_skip_change_commits_and_validate_notes_the_local_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _validate(tmp_path, PIPELINE, capsys)
    assert (code, err) == (0, ""), err
    (notice,) = [line for line in out.splitlines() if "skipping its change commits" in line]
    line = line_of(PIPELINE, "skip_change_commits: true")
    assert notice.startswith(f"notice: stacks/pipelines/pl-skip.yaml:{line}:")
    assert "reads its current rows whole" in notice
    # Without it, the stream of the CDC target is refused, as DLT refuses it.
    refused = PIPELINE.replace(", skip_change_commits: true", "")
    code, _out, err = _validate(tmp_path / "refused", refused, capsys)
    assert code == 2 and "which is not append-only" in err


def test_a_materialized_view_is_refused_even_so_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PIPELINE.replace(
        "        cdc: {primary_keys: [id], sequence_by: ts}\n", "        read_as_stream: false\n"
    )
    code, _out, err = _validate(tmp_path, text, capsys)
    assert code == 2
    (error,) = err.splitlines()
    assert error.startswith(
        f"stacks/pipelines/pl-skip.yaml:{line_of(text, 'skip_change_commits')}:"
    )
    assert "table_source.skip_change_commits: " in error
    assert "every update rewrites it" in error


def test_a_whole_read_takes_no_skip_option() -> None:
    with pytest.raises(Exception, match="skip_change_commits is an option of a stream"):
        Pipeline.model_validate(
            {
                "name": "pl-x",
                "tables": [
                    {
                        "name": "slv",
                        "builder": {
                            "layer": "SILVER",
                            "table_source": {
                                "name": "dev.raw.t",
                                "read_as_stream": False,
                                "skip_change_commits": True,
                            },
                        },
                    }
                ],
            }
        )


class _Reader:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls

    def option(self, key: str, value: str) -> _Reader:
        self.calls.append(("option", (key, value)))
        return self

    def table(self, name: str) -> str:
        self.calls.append(("table", name))
        return name


def test_databricks_streams_with_the_skip_change_commits_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")
    calls: list[tuple[str, Any]] = []

    class Session:
        readStream = _Reader(calls)  # Spark's name

    pipeline = Pipeline.model_validate(
        {
            "name": "pl-x",
            "tables": [
                {
                    "name": "slv",
                    "builder": {
                        "layer": "SILVER",
                        "table_source": {"name": "dev.raw.t", "skip_change_commits": True},
                    },
                }
            ],
        }
    )
    source = pipeline.table("slv").builder.table_source
    assert source is not None
    assert read_table_source(source, Session()) == "dev.raw.t"  # type: ignore[arg-type]
    assert calls == [("option", ("skipChangeCommits", "true")), ("table", "dev.raw.t")]
    # A table of the pipeline: read by its name with the option (dlt.read_stream takes none).
    calls.clear()
    own = source.model_copy(update={"name": "slv_customers"})
    assert read_table_source(own, Session()) == "slv_customers"  # type: ignore[arg-type]
    assert calls == [("option", ("skipChangeCommits", "true")), ("table", "slv_customers")]


def test_the_notice_finder_names_only_pipeline_tables() -> None:
    pipeline = Pipeline.model_validate(
        {
            "name": "pl-x",
            "tables": [
                {
                    "name": "slv",
                    "builder": {
                        "layer": "SILVER",
                        "table_source": {"name": "dev.raw.t", "skip_change_commits": True},
                    },
                }
            ],
        }
    )
    assert skipped_changes_read_whole(pipeline) == []
