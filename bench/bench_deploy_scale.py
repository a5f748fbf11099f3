"""Deploy scale: the offline plan of 200 pipelines of 25 tables each: target 1.5x, under 30 s.

Ours: `laktory-pulumi preview --stack dev` in-process (`cli.main`, output discarded) on a
generated project, YAML loading included, as the user's command does it. Also timed: our
components alone, from models loaded once (the deploy layer without the YAML).

Baseline: under the same mock runtime and the same recording monitor, the same
pulumi-databricks resources (Notebook, WorkspaceFile, Pipeline, Permissions) registered by a
hand-written program from inputs prepared once outside the timing: no component, no pydantic,
no YAML. Its resources are checked to be the same as ours, with the same inputs.

Peak memory: tracemalloc peak of one run of each variant. Runs take seconds to a minute each:
no warmup runs, the equivalence checks before the timing run every path once.

Run: .venv/bin/python bench/bench_deploy_scale.py
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import gc
import io
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import pulumi
import pulumi_databricks as databricks
from _timing import machine, median_seconds, report

from laktory_pulumi.cli import main as cli_main
from laktory_pulumi.deploy.artifacts import pipeline_artifacts
from laktory_pulumi.deploy.pipeline_component import PipelineComponent
from laktory_pulumi.deploy.preview import PlannedResource, engine_config_of, plan, run_under_mocks
from laktory_pulumi.deploy.program import NOTEBOOKS_FOLDER
from laktory_pulumi.deploy.secrets import SecretValues
from laktory_pulumi.deploy.wheel import build_wheel
from laktory_pulumi.loader import StackConfig, load_stack
from laktory_pulumi.models import Pipeline

REPO = Path(__file__).resolve().parent.parent
STACK = "dev"
PIPELINES = 200
SILVER = 20
GOLD = 4
TABLES = 1 + SILVER + GOLD
COLUMNS = 10
REPEAT = 5
TARGET_RATIO = 1.5
TARGET_SECONDS = 30.0
PROJECT_FILES = ("Pulumi.yaml", f"Pulumi.{STACK}.yaml", "__main__.py")
CATALOG_RESOURCE_TYPES = (
    "databricks:index/schema:Schema",
    "databricks:index/volume:Volume",
    "databricks:index/grant:Grant",
)
COLUMN_TYPES = ("double", "bigint", "decimal(18,2)", "string")

HEADER = """\
name: {name}
catalog: ${{vars.catalog}}
target: bench
development: ${{vars.development}}
configuration:
  landing_root: ${{vars.landing_root}}
clusters:
  - name: default
    node_type_id: Standard_DS3_v2
    autoscale:
      min_workers: ${{vars.min_workers}}
      max_workers: ${{vars.max_workers}}
libraries:
  - notebook:
      path: /pipelines/dlt_brz_template.py
  - notebook:
      path: /pipelines/dlt_slv_template.py
  - notebook:
      path: /pipelines/dlt_gld_template.py
permissions:
  - group_name: account users
    permission_level: CAN_VIEW
  - group_name: role-engineers
    permission_level: CAN_RUN
tables:
  - name: brz_events
    timestamp_key: data.created_at
    builder:
      layer: BRONZE
      event_source:
        name: event_{index:03d}
        producer:
          name: app
        read_as_stream: true
"""


def silver_table(index: int) -> str:
    columns = ["created_at:timestamp", "key:string"] + [
        f"c{column:02d}:{COLUMN_TYPES[column % len(COLUMN_TYPES)]}" for column in range(2, COLUMNS)
    ]
    lines = [
        f"  - name: slv_table_{index:02d}",
        "    timestamp_key: created_at",
        "    primary_key: [key, created_at]",
        "    builder:",
        "      layer: SILVER",
        "      drop_duplicates: true",
        "      table_source:",
        "        name: brz_events",
        "        read_as_stream: true",
        "    columns:",
    ]
    for column in columns:
        name, spark_type = column.split(":")
        lines += [
            f"      - name: {name}",
            f"        type: {spark_type}",
            "        spark_func_name: coalesce",
            "        spark_func_args:",
            f"          - data.{name}",
        ]
    lines += [
        "    expectations:",
        "      - name: has_key",
        "        expression: key IS NOT NULL",
        "        action: DROP",
    ]
    return "\n".join(lines) + "\n"


def gold_table(index: int) -> str:
    return f"""\
  - name: gld_table_{index}
    primary_key: [key, day]
    builder:
      layer: GOLD
      table_source:
        name: slv_table_{index + 1:02d}
        read_as_stream: false
      aggregation:
        groupby_columns: [key]
        window:
          time_column: created_at
          window_duration: 1 day
        aggregates:
          - name: first_c02
            spark_func_name: min_by
            spark_func_args: [c02, created_at]
          - name: max_c02
            spark_func_name: max
            spark_func_args: [c02]
          - name: total_c03
            spark_func_name: sum
            spark_func_args: [c03]
      selects: [key, day, first_c02, max_c02, total_c03]
    columns:
      - name: day
        type: date
        sql_expression: to_date(window_start)
"""


def pipeline_yaml(index: int) -> str:
    return (
        HEADER.format(name=f"pl-bench-{index:03d}", index=index)
        + "".join(silver_table(i) for i in range(1, SILVER + 1))
        + "".join(gold_table(i) for i in range(1, GOLD + 1))
    )


def make_project(root: Path) -> Path:
    """The repo's project files and notebooks, with 200 generated pipelines in stacks/."""
    project = root / "project"
    (project / "stacks" / "pipelines").mkdir(parents=True)
    for name in PROJECT_FILES:
        shutil.copy(REPO / name, project / name)
    shutil.copytree(REPO / NOTEBOOKS_FOLDER, project / NOTEBOOKS_FOLDER)
    for index in range(PIPELINES):
        path = project / "stacks" / "pipelines" / f"pl-bench-{index:03d}.yaml"
        path.write_text(pipeline_yaml(index))
    return project


# --- the mock runtime, as `deploy.preview._run_program` sets it up --------------------------


def under_mocks(body: Callable[[], None], config: StackConfig) -> list[PlannedResource]:
    """`body` as a Pulumi program under the offline mocks, as `laktory-pulumi preview` runs."""
    engine_config, secret_keys = engine_config_of(config.raw)
    return contextvars.Context().run(
        run_under_mocks, body, config.project, config.stack, engine_config, secret_keys
    )


# --- ours -----------------------------------------------------------------------------------


def run_preview(project: Path) -> None:
    """`laktory-pulumi preview --stack dev`, as the console script runs it; output discarded."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(["preview", "--stack", STACK, "--project", str(project)])
    assert code == 0, code


def components_body(pipelines: dict[str, Pipeline], project: Path, config: StackConfig):
    """`deploy_stack` after its `load_stack`: our pipeline components from models already
    loaded (the catalog's schemas and grants, a few resources per stack, are left out)."""

    def body() -> None:
        wheel = build_wheel()  # once per stack, as `deploy_stack` does
        components = {
            name: PipelineComponent(
                pipeline,
                notebooks_dir=project / NOTEBOOKS_FOLDER,
                laktory_root=config.laktory_root,
                name_prefix=config.name_prefix,
                protect=config.protect,
                wheel=wheel,
                secrets=SecretValues(),
            )
            for name, pipeline in pipelines.items()
        }
        pulumi.export(
            "pipelines",
            {
                name: {
                    "id": c.pipeline_id,
                    "url": c.pipeline_url,
                    "metadata_path": c.metadata_path,
                    "notebook_paths": c.notebook_paths,
                }
                for name, c in components.items()
            },
        )
        pulumi.export("clusters", {})

    return body


# --- baseline: hand-written registration ----------------------------------------------------


@dataclass(frozen=True)
class Upload:
    key: str
    path: str
    content: bytes
    notebook: bool


@dataclass(frozen=True)
class PipelineSpec:
    """Plain inputs of one pipeline, prepared once outside the timing."""

    name: str
    display_name: str
    catalog: str
    schema: str
    development: bool
    configuration: dict[str, str]
    node_type_id: str
    min_workers: int
    max_workers: int
    notebook_paths: list[str]
    grants: list[tuple[str, str]]
    """(group name, permission level), sorted by group."""
    uploads: list[Upload]


def baseline_specs(pipelines: dict[str, Pipeline], project: Path, config: StackConfig):
    """The bytes to upload (notebooks rendered, metadata, the wheel shared) and the plain settings."""
    laktory_root = config.laktory_root
    shared: dict[bytes, bytes] = {}
    specs = []
    for pipeline in pipelines.values():
        uploads = [
            Upload(
                a.key,
                a.workspace_path,
                shared.setdefault(a.content, a.content),
                a.kind == "notebook",
            )
            for a in pipeline_artifacts(pipeline, project / NOTEBOOKS_FOLDER, laktory_root)
        ]
        (cluster,) = pipeline.clusters
        assert cluster.autoscale is not None and pipeline.catalog and pipeline.target
        specs.append(
            PipelineSpec(
                name=pipeline.name,
                display_name=config.name_prefix + pipeline.name,
                catalog=pipeline.catalog,
                schema=pipeline.target,
                development=bool(pipeline.development),
                configuration={
                    **pipeline.configuration,
                    "pipeline_name": pipeline.name,
                    "laktory_root": laktory_root,
                },
                node_type_id=str(cluster.node_type_id),
                min_workers=cluster.autoscale.min_workers,
                max_workers=cluster.autoscale.max_workers,
                notebook_paths=sorted(u.path for u in uploads if u.notebook),
                grants=sorted(
                    (str(p.group_name), p.permission_level) for p in pipeline.permissions
                ),
                uploads=uploads,
            )
        )
    return specs


def baseline_body(specs: list[PipelineSpec]) -> Callable[[], None]:
    def body() -> None:
        exported = {}
        for spec in specs:
            name = spec.name
            uploaded: list[pulumi.CustomResource] = []
            for upload in spec.uploads:
                content = base64.b64encode(upload.content).decode()
                if upload.notebook:
                    uploaded.append(
                        databricks.Notebook(
                            f"{name}/{upload.key}",
                            path=upload.path,
                            language="PYTHON",
                            content_base64=content,
                        )
                    )
                else:
                    uploaded.append(
                        databricks.WorkspaceFile(
                            f"{name}/{upload.key}", path=upload.path, content_base64=content
                        )
                    )
            pipeline = databricks.Pipeline(
                name,
                name=spec.display_name,
                catalog=spec.catalog,
                schema=spec.schema,
                clusters=[
                    databricks.PipelineClusterArgs(
                        label="default",
                        node_type_id=spec.node_type_id,
                        autoscale=databricks.PipelineClusterAutoscaleArgs(
                            min_workers=spec.min_workers, max_workers=spec.max_workers
                        ),
                    )
                ],
                libraries=[
                    databricks.PipelineLibraryArgs(
                        notebook=databricks.PipelineLibraryNotebookArgs(path=path)
                    )
                    for path in spec.notebook_paths
                ],
                configuration=spec.configuration,
                continuous=False,
                development=spec.development,
                photon=False,
                channel="CURRENT",
                edition="ADVANCED",
                opts=pulumi.ResourceOptions(depends_on=uploaded),
            )
            databricks.Permissions(
                f"{name}/permissions",
                pipeline_id=pipeline.id,
                access_controls=[
                    databricks.PermissionsAccessControlArgs(
                        group_name=group, permission_level=level
                    )
                    for group, level in spec.grants
                ],
            )
            readers = [
                databricks.PermissionsAccessControlArgs(
                    group_name=group, permission_level="CAN_READ"
                )
                for group, _ in spec.grants
            ]
            for upload, resource in zip(spec.uploads, uploaded, strict=True):
                target = (
                    {"notebook_path": upload.path}
                    if upload.notebook
                    else {"workspace_file_path": upload.path}
                )
                databricks.Permissions(
                    f"{name}/{upload.key}/permissions",
                    access_controls=readers,
                    **target,
                    opts=pulumi.ResourceOptions(depends_on=[resource]),
                )
            exported[name] = {
                "id": pipeline.id,
                "url": pipeline.url,
                "metadata_path": next(u.path for u in spec.uploads if u.key == "metadata"),
                "notebook_paths": spec.notebook_paths,
            }
        pulumi.export("pipelines", exported)
        pulumi.export("clusters", {})

    return body


# --- figures --------------------------------------------------------------------------------


def custom_inputs(resources: list[PlannedResource]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r.type, r.name): r.inputs for r in resources if r.custom}


def peak_bytes(run: Callable[[], object]) -> int:
    """tracemalloc peak of one call, from a collected heap."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def memory_line(label: str, ours: int, baseline: int) -> None:
    """`report`'s line for bytes: `report` prints milliseconds."""
    ratio = ours / baseline
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(
        f"{label}: ours {ours / 2**20:.1f} MiB, baseline {baseline / 2**20:.1f} MiB, "
        f"ratio {ratio:.2f}x  (target <= {TARGET_RATIO:g}x: {verdict})",
        flush=True,
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp))
        config = StackConfig.read(project, STACK)
        start = time.perf_counter()
        stack = load_stack(project, STACK)
        load_seconds = time.perf_counter() - start
        assert len(stack.pipelines) == PIPELINES
        assert all(len(p.tables) == TABLES for p in stack.pipelines.values())
        ours_components = components_body(stack.pipelines, project, stack.config)
        specs = baseline_specs(stack.pipelines, project, stack.config)
        baseline = baseline_body(specs)

        # Same resources, same inputs: the baseline registers exactly what we do.
        planned = under_mocks(ours_components, config)
        by_hand = under_mocks(baseline, config)
        ours_inputs, baseline_inputs = custom_inputs(planned), custom_inputs(by_hand)
        assert len(ours_inputs) == len(baseline_inputs) == PIPELINES * 12, len(ours_inputs)
        assert ours_inputs == baseline_inputs, "baseline inputs differ from ours"
        previewed = custom_inputs(plan(project, STACK))
        # The preview also plans the stack's Unity Catalog objects (one schema, one volume and
        # its schema, for all 200 pipelines); the rest is the baseline's.
        around = {key: v for key, v in previewed.items() if key[0] in CATALOG_RESOURCE_TYPES}
        assert len(around) == 3, sorted(around)
        assert {k: v for k, v in previewed.items() if k not in around} == baseline_inputs, (
            "preview differs"
        )
        components = sum(1 for r in planned if not r.custom)

        preview_seconds = median_seconds(lambda: run_preview(project), repeat=REPEAT, warmup=0)
        components_seconds = median_seconds(
            lambda: under_mocks(ours_components, config), repeat=REPEAT, warmup=0
        )
        baseline_seconds = median_seconds(
            lambda: under_mocks(baseline, config), repeat=REPEAT, warmup=0
        )

        preview_peak = peak_bytes(lambda: run_preview(project))
        components_peak = peak_bytes(lambda: under_mocks(ours_components, config))
        baseline_peak = peak_bytes(lambda: under_mocks(baseline, config))

    print(
        f"machine: {machine()}; {PIPELINES} pipelines x {TABLES} tables, "
        f"{len(ours_inputs)} resources (+{components} components and stack in ours)"
    )
    report(
        "preview --stack dev, incl. YAML loading vs direct registration",
        preview_seconds,
        baseline_seconds,
        target=TARGET_RATIO,
    )
    report(
        "our components, models preloaded vs direct registration",
        components_seconds,
        baseline_seconds,
        target=TARGET_RATIO,
    )
    print(f"load_stack alone (preview loads the stack once): {load_seconds * 1000:.1f} ms")
    memory_line("peak memory, preview vs direct registration", preview_peak, baseline_peak)
    memory_line("peak memory, components vs direct registration", components_peak, baseline_peak)
    verdict = "met" if preview_seconds < TARGET_SECONDS else "MISSED"
    print(f"preview absolute: {preview_seconds:.2f} s (target < {TARGET_SECONDS:g} s: {verdict})")


if __name__ == "__main__":
    main()
