"""The local runner's parts that need no pipeline run: spec, selections, events, report, SCD."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from pyspark.sql import SparkSession
from test_local_support import REPO, STOCK_DATA, make_project, rows_of

from laktory_pulumi.loader import load_stack
from laktory_pulumi.local.demo import EVENTS_FOLDER, land_demo_data
from laktory_pulumi.local.events import Event, emit, parse, table_name
from laktory_pulumi.local.layout import StateLayout
from laktory_pulumi.local.report import RunReport
from laktory_pulumi.local.runner import changed_unions, record_union_flows, selected_tables
from laktory_pulumi.local.sdp_driver import _flow_state
from laktory_pulumi.local.spec import pipeline_configuration, write_spark_conf, write_spec
from laktory_pulumi.local.workspace import lay_out_workspace
from laktory_pulumi.metadata import WORKSPACE_ROOT_ENV, metadata_bytes, read_metadata
from laktory_pulumi.models import Pipeline
from laktory_pulumi.runtime.scd import ChangeSpec, apply_changes


@pytest.fixture(scope="module")
def stock_pipeline() -> Pipeline:
    return load_stack(REPO, "dev").pipelines["pl-stock-prices"]


def test_a_table_runs_with_what_it_reads_and_its_quarantine(stock_pipeline: Pipeline) -> None:
    # Joins are read too: the silver-star table joins the metadata.
    assert selected_tables(stock_pipeline, ["gld_stock_performances"]) == [
        "brz_stock_prices",
        "slv_stock_prices",
        "slv_stock_prices_quarantine",
        "brz_stock_metadata",
        "slv_stock_metadata",
        "slv_star_stock_prices",
        "gld_stock_performances",
    ]
    assert selected_tables(stock_pipeline, ["brz_stock_prices"]) == ["brz_stock_prices"]
    assert selected_tables(stock_pipeline, []) == []


def test_the_local_workspace_holds_the_deployed_bytes(
    tmp_path: Path, stock_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from laktory_pulumi.deploy.artifacts import pipeline_artifacts

    workspace = lay_out_workspace(tmp_path, stock_pipeline, REPO / "notebooks", "/.laktory/")
    deployed = {
        artifact.workspace_path: artifact.content
        for artifact in pipeline_artifacts(stock_pipeline, REPO / "notebooks", "/.laktory/")
    }
    assert len(workspace.notebooks) == len(stock_pipeline.libraries) == 4
    for notebook in workspace.notebooks:
        workspace_path = "/" + str(notebook.relative_to(tmp_path)).removesuffix(".py")
        assert notebook.read_bytes() == deployed[workspace_path]
    assert workspace.metadata.read_bytes() == metadata_bytes(stock_pipeline)
    monkeypatch.setenv(WORKSPACE_ROOT_ENV, str(tmp_path))
    assert read_metadata("pl-stock-prices") == stock_pipeline


def test_spec_points_at_the_state_folder_and_the_local_landing(
    tmp_path: Path, stock_pipeline: Pipeline
) -> None:
    layout = StateLayout.at(tmp_path / "state")
    notebook = layout.workspace / "nb.py"
    configuration = pipeline_configuration(
        stock_pipeline, "/.laktory/", tmp_path / "landing", layout
    )
    spec = yaml.safe_load(write_spec(layout, stock_pipeline, [notebook], configuration).read_text())

    assert spec["name"] == "pl-stock-prices"
    assert spec["storage"] == layout.storage.as_uri()
    assert spec["database"] == "finance"
    assert spec["libraries"] == [{"glob": {"include": "workspace/nb.py"}}]
    assert spec["configuration"]["pipeline_name"] == "pl-stock-prices"
    # The stack's /Volumes landing root is replaced by the local folder.
    assert spec["configuration"]["landing_root"] == str((tmp_path / "landing").resolve())
    assert spec["configuration"]["laktory_schema_root"] == str(layout.schemas)


def test_static_spark_config_goes_to_spark_defaults(tmp_path: Path) -> None:
    layout = StateLayout.at(tmp_path)
    defaults = (write_spark_conf(layout) / "spark-defaults.conf").read_text().splitlines()
    settings = dict(line.split(" ", 1) for line in defaults)
    assert settings["spark.sql.catalogImplementation"] == "hive"
    assert settings["spark.sql.warehouse.dir"] == layout.warehouse.as_uri()
    assert str(layout.metastore) in settings["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert settings["spark.sql.pipelines.maxFlowRetryAttempts"] == "0"


def test_events_survive_the_trip_through_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    event = Event("progress", update=2, table="brz", rows=7, metrics={"rows": 7})
    emit(event)
    line = "26/11/24 INFO noise " + capsys.readouterr().out
    assert parse(line) == event
    assert parse("a log line") is None
    assert table_name("spark_catalog.finance.brz_stock_prices") == "brz_stock_prices"


def test_flow_messages_of_sdp_are_read() -> None:
    assert _flow_state("Flow spark_catalog.finance.brz is RUNNING.") == ("brz", "RUNNING")
    assert _flow_state("Flow 'spark_catalog.finance.slv' has FAILED.") == ("slv", "FAILED")
    assert _flow_state("Flow 'spark_catalog.db.gld' SKIPPED due to upstream failure(s).") == (
        "gld",
        "SKIPPED",
    )
    assert _flow_state("Run is COMPLETED.") is None


def _counts(table: str, before: int, total: int, **metrics: object) -> Event:
    return Event(
        "table_counts",
        table=table,
        metrics={"rows_before": before, "rows_total": total, **metrics},
    )


def test_report_counts_new_rows_rules_and_quarantine(tmp_path: Path) -> None:
    said: list[str] = []
    report = RunReport(
        pipeline="pl",
        log_file=tmp_path / "x.log",
        say=said.append,
        quarantines={"slv": "slv_quarantine"},
    )
    report.handle(_counts("brz", 10, 15, rescued_before=1, rescued_total=3))
    report.handle(
        _counts(
            "slv",
            8,
            12,
            expectations={"known": "DROP", "positive": "WARN"},
            observed={"rows": 5, "failed:known": 1, "failed:positive": 2},
        )
    )
    report.handle(_counts("slv_quarantine", 0, 1))
    report.handle(_counts("gld", 0, 4, materialized_view=True))
    report.handle(Event("update_ended", state="COMPLETED"))

    state = report.state("COMPLETED")
    assert state.tables["brz"].rows_written == 5 and state.tables["brz"].rescued == 2
    assert state.tables["slv"].rows_written == 4 and state.tables["slv"].quarantined == 1
    assert state.tables["slv"].expectations["known"].passed_rows == 4
    assert state.tables["slv"].expectations["positive"].failed_rows == 2
    assert state.tables["gld"].rows_written == 4
    summary = "\n".join(report.summary(state))
    assert "known (DROP): 4 passed, 1 dropped" in summary
    assert "positive (WARN): 3 passed, 2 warned" in summary


def test_a_failed_update_names_its_table(tmp_path: Path) -> None:
    report = RunReport(pipeline="pl", log_file=tmp_path / "x.log", say=lambda _: None)
    report.handle(Event("update_ended", state="FAILED", table="slv", error="boom"))
    assert report.failure == ("slv", "boom")


@pytest.mark.spark
def test_scd_tables_of_a_change_feed(spark: SparkSession) -> None:
    changes = spark.createDataFrame(
        [
            (123, "Monterrey", "I", 1),
            (124, "Oaxaca", "I", 1),
            (125, "Tijuana", "I", 2),
            (123, None, "D", 6),
            (125, "Guadalajara", "U", 6),
            (125, "Mexicali", "U", 5),  # late: lower sequence, landed after 6
            (123, "Chihuahua", "U", 5),
            (124, "Oaxaca", "U", 7),  # same values again: no new version
        ],
        "id INT, city STRING, op STRING, seq INT",
    )
    spec = ChangeSpec(
        keys=["id"], sequence_by="seq", apply_as_deletes="op = 'D'", except_column_list=["op"]
    )
    latest = apply_changes(changes, spec)
    assert latest.columns == ["id", "city", "seq"]
    assert rows_of(latest, ["id", "city", "seq"]) == [(124, "Oaxaca", 7), (125, "Guadalajara", 6)]

    history = apply_changes(changes, replace(spec, stored_as_scd_type=2))
    assert rows_of(history, ["id", "city", "__START_AT", "__END_AT"]) == [
        (123, "Chihuahua", 5, 6),
        (123, "Monterrey", 1, 5),
        (124, "Oaxaca", 1, None),
        (125, "Guadalajara", 6, None),
        (125, "Mexicali", 5, 6),
        (125, "Tijuana", 2, 5),
    ]


def test_demo_data_is_landed_once_where_bronze_reads(tmp_path: Path) -> None:
    landed = land_demo_data(REPO, tmp_path / "landing")
    metadata = REPO / "data" / "stock_metadata" / "stock_metadata.jsonl"
    assert landed == [
        tmp_path / "landing" / EVENTS_FOLDER / STOCK_DATA.name,
        tmp_path / "landing" / "events" / "yahoo-finance" / "stock_metadata" / metadata.name,
    ]
    assert landed[1].read_bytes() == metadata.read_bytes()
    assert landed[0].read_bytes() == STOCK_DATA.read_bytes()
    before = landed[0].stat().st_mtime_ns
    assert land_demo_data(REPO, tmp_path / "landing") == landed
    assert landed[0].stat().st_mtime_ns == before


def test_a_local_run_loads_no_pulumi() -> None:
    # `laktory-pulumi run` starts a CLI process per run: importing Pulumi (gRPC, protobuf) would
    # add its import time to every run, and a laptop user may not have it configured.
    import subprocess
    import sys

    code = (
        "import sys, laktory_pulumi.cli, laktory_pulumi.local.runner, laktory_pulumi.local.workspace;"
        "print(sorted(m for m in sys.modules if m == 'pulumi' or m.startswith('pulumi.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def _union_pipeline(project: Path, name: str, producers: list[str]) -> Pipeline:
    """A pipeline whose bronze is fed by one event source per producer, streamed by silver."""
    sources = "\n".join(
        f"        - {{name: order, producer: {{name: {producer}}}}}" for producer in producers
    )
    make_project(
        project,
        f"""\
name: {name}
target: {name.replace("-", "_")}
libraries:
  - notebook: {{path: /pipelines/dlt_brz_template.py}}
  - notebook: {{path: /pipelines/dlt_slv_template.py}}
tables:
  - name: brz_orders
    builder:
      layer: BRONZE
      event_sources:
{sources}
  - name: slv_orders
    builder:
      layer: SILVER
      table_source: {{name: brz_orders}}
""",
        name,
    )
    return load_stack(project, "dev").pipelines[name]


def test_a_source_added_is_seen_though_another_pipeline_ran_on_the_state_since(
    tmp_path: Path,
) -> None:
    layout = StateLayout.at(tmp_path / "state")
    first = _union_pipeline(tmp_path / "a", "pl-a", ["shop", "partner"])
    other = _union_pipeline(tmp_path / "b", "pl-b", ["erp", "web"])
    record_union_flows(first, layout)
    record_union_flows(other, layout)  # pl-b's run must not erase what pl-a's left
    assert changed_unions(first, layout) == {}

    grown = _union_pipeline(tmp_path / "a2", "pl-a", ["shop", "partner", "shop2"])
    assert changed_unions(grown, layout) == {"brz_orders": ["slv_orders"]}
    assert changed_unions(other, layout) == {}


def test_pipelines_taking_turns_on_a_state_folder_each_keep_their_preflight(
    tmp_path: Path, spark: SparkSession
) -> None:
    """The pre-flight analysis of an unchanged pipeline is skipped though another pipeline ran
    its own on the same state folder since; an edit to the pipeline runs it again."""
    from laktory_pulumi.local.runner import _preflight

    layout = StateLayout.at(tmp_path / "state")
    landing = tmp_path / "landing"
    landing.mkdir()
    stacks = {}
    for name, producers in (("pl-a", ["shop"]), ("pl-b", ["erp"])):
        _union_pipeline(tmp_path / name, name, producers)
        stacks[name] = load_stack(tmp_path / name, "dev", only=[name])

    def analysed(name: str) -> bool:
        """Whether `_preflight` analysed the plans: only an analysis (re)writes the stamp."""
        stamp = layout.preflight_stamp(name)
        before = stamp.stat().st_mtime_ns if stamp.is_file() else None
        _preflight(stacks[name], tmp_path / name, landing, layout)
        return stamp.stat().st_mtime_ns != before

    assert analysed("pl-a") and analysed("pl-b")
    assert not analysed("pl-a") and not analysed("pl-b")
    _union_pipeline(tmp_path / "pl-a2", "pl-a", ["shop", "partner"])
    stacks["pl-a"] = load_stack(tmp_path / "pl-a2", "dev", only=["pl-a"])
    assert analysed("pl-a") and not analysed("pl-b")
