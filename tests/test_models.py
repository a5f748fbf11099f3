"""The models and what is committed with them: seed, stacks, schemas, descriptions."""

from __future__ import annotations

import shutil
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

import laktory_pulumi.models as models
from laktory_pulumi.cli import main
from laktory_pulumi.loader import (
    LoadError,
    StackConfig,
    load_cluster_file,
    load_pipeline_file,
    load_stack,
)
from laktory_pulumi.metadata import metadata_bytes
from laktory_pulumi.models import (
    Cluster,
    Column,
    LitArg,
    Pipeline,
    SqlArg,
    Table,
    TableBuilder,
    ValueArg,
)
from laktory_pulumi.schema import SCHEMA_DIR, schema_text

REPO = Path(__file__).resolve().parents[1]
SEED = Path(__file__).parent / "data" / "seed_pipeline.yaml"
STACKS = ("dev", "prod")
PIPELINE_FILES = sorted((REPO / "stacks" / "pipelines").glob("*.yaml"))
CLUSTER_FILES = sorted((REPO / "stacks" / "clusters").glob("*.yaml"))
STACK_FILES = sorted((REPO / "stacks").rglob("*.y*ml"))
SCHEMA_LINE = "# yaml-language-server: $schema="


def test_the_seed_file_loads_as_written() -> None:
    pipeline = load_pipeline_file(SEED, {})
    assert (pipeline.name, pipeline.catalog, pipeline.target) == (
        "pl-stock-prices",
        "dev",
        "finance",
    )
    [cluster] = pipeline.clusters
    assert cluster.name == "default" and cluster.node_type_id == "Standard_DS3_v2"
    assert (cluster.autoscale.min_workers, cluster.autoscale.max_workers) == (1, 2)
    assert [library.path for library in pipeline.libraries] == [
        "/pipelines/dlt_brz_template.py",
        "/pipelines/dlt_slv_template.py",
        "/pipelines/dlt_gld_stock_performances.py",
    ]
    assert [(p.group_name, p.permission_level) for p in pipeline.permissions] == [
        ("account users", "CAN_VIEW"),
        ("role-engineers", "CAN_RUN"),
    ]
    bronze, silver = pipeline.tables
    assert bronze.name == "brz_stock_prices" and bronze.layer == "BRONZE"
    assert bronze.timestamp_key == "data.created_at"
    source = bronze.builder.event_source
    assert (source.name, source.producer.name, source.read_as_stream) == (
        "stock_price",
        "yahoo-finance",
        True,
    )
    assert silver.layer == "SILVER" and silver.builder.table_source.name == "brz_stock_prices"
    assert [(c.name, c.type, c.spark_func_name, c.spark_func_args) for c in silver.columns] == [
        ("created_at", "timestamp", "coalesce", ["data._created_at"]),
        ("symbol", "string", "coalesce", ["data.symbol"]),
        ("open", "double", "coalesce", ["data.open"]),
        ("close", "double", "coalesce", ["data.close"]),
    ]
    assert pipeline.upstream(silver) == [bronze]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("path", PIPELINE_FILES, ids=lambda path: path.name)
def test_a_stack_pipeline_round_trips_through_its_metadata_json(path: Path, stack: str) -> None:
    config = StackConfig.read(REPO, stack)
    pipeline = load_pipeline_file(path, config.variables)
    data = metadata_bytes(pipeline)
    again = Pipeline.model_validate_json(data)
    assert again == pipeline
    assert metadata_bytes(again) == data
    assert [table.pipeline is again for table in again.tables] == [True] * len(again.tables)


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda path: path.name)
def test_a_stack_cluster_round_trips_through_json(path: Path, stack: str) -> None:
    config = StackConfig.read(REPO, stack)
    cluster = load_cluster_file(path, config.variables)
    data = cluster.model_dump_json(exclude_none=True)
    assert Cluster.model_validate_json(data) == cluster


def test_the_round_trip_would_notice_a_changed_field() -> None:
    pipeline = load_pipeline_file(SEED, {})
    changed = pipeline.model_dump(exclude_none=True)
    changed["tables"][1]["columns"][0]["type"] = "date"
    assert Pipeline.model_validate(changed) != pipeline


@pytest.mark.parametrize("stack", STACKS)
def test_validate_passes_on_each_stack(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--project", str(REPO), "--stack", stack]) == 0
    out, err = capsys.readouterr()
    # The stock bronze sources hint the columns the pipeline reads (`schema_hints`), so a
    # fresh deploy's first update runs on the empty landing volume: no notice.
    assert (out.splitlines(), err) == (["ok: 1 pipeline, 6 tables, 1 cluster(s)"], "")


def test_the_stacks_differ_by_their_variables() -> None:
    dev, prod = (load_stack(REPO, stack).pipelines["pl-stock-prices"] for stack in STACKS)
    assert (dev.catalog, prod.catalog) == ("dev", "prod")
    assert (dev.clusters[0].autoscale.max_workers, prod.clusters[0].autoscale.max_workers) == (2, 8)
    assert (dev.development, prod.development) == (True, False)


def test_a_value_that_is_only_a_variable_keeps_the_variable_type(tmp_path: Path) -> None:
    path = tmp_path / "typed.yaml"
    path.write_text(
        "name: pl-${vars.label}\n"
        "target: ${vars.workers}_${vars.flag}\n"
        "development: ${vars.flag}\n"
        "clusters:\n"
        "  - num_workers: ${ vars.workers }\n"
    )
    pipeline = load_pipeline_file(path, {"label": "typed", "workers": 3, "flag": False})
    assert pipeline.development is False
    assert pipeline.clusters[0].num_workers == 3
    assert (pipeline.name, pipeline.target) == (
        "pl-typed",
        "3_false",
    )  # booleans read as YAML writes them


def test_a_variable_keeps_its_type_even_where_a_string_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "typed.yaml"
    path.write_text("name: pl-typed\ntarget: ${vars.workers}\n")
    # The value is not shown (a variable may be secret); quoting makes it text.
    with pytest.raises(LoadError, match=r"target: input should be a valid string; quote the"):
        load_pipeline_file(path, {"workers": 3})
    path.write_text('name: pl-typed\ntarget: "${vars.workers}"\n')
    assert load_pipeline_file(path, {"workers": 3}).target == "3"


def test_function_arguments_parse_to_their_kinds() -> None:
    column = Column.model_validate(
        {
            "name": "day",
            "type": "date",
            "spark_func_name": "to_date",
            "spark_func_args": ["data.created_at", {"lit": 0}, {"value": "yyyy"}, {"sql": "a+b"}],
            "spark_func_kwargs": {"format": {"value": "yyyy-MM-dd"}, "col": "data.day"},
        }
    )
    ref, lit, value, sql = column.spark_func_args
    assert ref == "data.created_at"
    assert lit == LitArg(lit=0) and isinstance(lit, LitArg)
    assert value == ValueArg(value="yyyy") and isinstance(value, ValueArg)
    assert sql == SqlArg(sql="a+b") and isinstance(sql, SqlArg)
    assert column.spark_func_kwargs == {"format": ValueArg(value="yyyy-MM-dd"), "col": "data.day"}


def test_an_argument_with_two_kinds_is_rejected() -> None:
    with pytest.raises(ValidationError, match="an argument is a column name"):
        Column.model_validate(
            {
                "name": "x",
                "type": "int",
                "spark_func_name": "coalesce",
                "spark_func_args": [{"lit": 1, "sql": "1"}],
            }
        )


@pytest.mark.parametrize(
    ("layer", "expected"), [("bronze", "BRONZE"), ("Gold", "GOLD"), ("SILVER", "SILVER")]
)
def test_a_layer_is_accepted_in_any_case(layer: str, expected: str) -> None:
    builder = TableBuilder.model_validate({"layer": layer, "table_source": {"name": "a.b.c"}})
    assert builder.layer == expected


def test_lowercase_enums_load_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "lower.yaml"
    path.write_text(
        "name: pl-lower\n"
        "edition: pro\n"
        "permissions: [{user_name: jane@example.com, permission_level: can_manage}]\n"
        "libraries: [{notebook: {path: /pipelines/dlt_brz_template.py}}]\n"
        "tables:\n"
        "  - name: brz_events\n"
        "    builder: {layer: bronze, event_source: {name: e, producer: {name: p}, format: csv}}\n"
        "    expectations: []\n"
    )
    pipeline = load_pipeline_file(path, {})
    assert pipeline.edition == "PRO"
    assert pipeline.permissions[0].permission_level == "CAN_MANAGE"
    assert pipeline.tables[0].layer == "BRONZE"
    assert pipeline.tables[0].builder.event_source.format == "CSV"


def test_a_single_primary_key_becomes_a_list() -> None:
    table = Table.model_validate(
        {
            "name": "slv_events",
            "primary_key": "id",
            "builder": {"layer": "SILVER", "table_source": {"name": "dev.raw.events"}},
        }
    )
    assert table.primary_key == ["id"]


@pytest.mark.parametrize("kind", ["pipeline", "cluster"])
def test_the_committed_schema_is_up_to_date(kind: str) -> None:
    committed = SCHEMA_DIR / f"{kind}.schema.json"
    assert committed.exists(), "run `laktory-pulumi schema --write` to create it"
    assert committed.read_text() == schema_text(kind), (
        f"{committed.relative_to(REPO)} is stale: run `laktory-pulumi schema --write`"
    )


def test_the_schema_accepts_a_variable_where_a_number_is_expected() -> None:
    import json

    schema = json.loads(schema_text("pipeline"))
    workers = schema["$defs"]["PipelineCluster"]["properties"]["num_workers"]
    patterns = json.dumps(workers)
    assert "vars|env" in patterns and '"integer"' in patterns


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda path: path.name)
def test_a_stack_file_points_at_its_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith(SCHEMA_LINE), f"{path.name} must start with `{SCHEMA_LINE}...`"
    target = (path.parent / first.removeprefix(SCHEMA_LINE).strip()).resolve()
    assert target.is_file(), f"{path.name} points at {target}, which does not exist"
    kind = path.parent.name.removesuffix("s")  # pipelines -> pipeline, clusters -> cluster
    assert target == (SCHEMA_DIR / f"{kind}.schema.json").resolve()


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Model classes an annotation refers to, through unions, lists, dicts and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is None and not args:
        return []
    if origin in (Union, types.UnionType, list, dict) or hasattr(annotation, "__metadata__"):
        return [model for arg in args for model in _models_in(arg)]
    return []


def all_models() -> list[type[BaseModel]]:
    """Every model reachable from the exported ones."""
    seen: dict[type[BaseModel], None] = {}
    todo = [
        value
        for value in vars(models).values()
        if isinstance(value, type) and issubclass(value, BaseModel)
    ]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen[model] = None
        todo.extend(base for base in model.__mro__[1:] if issubclass(base, BaseModel))
        for field in model.model_fields.values():
            todo.extend(_models_in(field.annotation))
    return [model for model in seen if model not in (BaseModel, models.Model)]


def test_the_walk_finds_every_model() -> None:
    names = {model.__name__ for model in all_models()}
    assert {"Pipeline", "Cluster", "Principal", "Cdc", "TimeWindow", "InitScript"} <= names
    assert len(names) >= 28


@pytest.mark.parametrize("model", all_models(), ids=lambda model: model.__name__)
def test_every_model_and_field_is_described(model: type[BaseModel]) -> None:
    assert (model.__doc__ or "").strip(), f"{model.__name__} has no docstring"
    undescribed = [
        name for name, field in model.model_fields.items() if not (field.description or "").strip()
    ]
    assert undescribed == [], f"{model.__name__} fields without a description: {undescribed}"


def test_a_stack_is_loaded_again_only_when_a_definition_changes(tmp_path: Path) -> None:
    from laktory_pulumi.loader import load_stack
    from laktory_pulumi.loader.stack import loads_reused

    root = Path(__file__).resolve().parent.parent
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copyfile(root / name, tmp_path / name)
    shutil.copytree(root / "stacks", tmp_path / "stacks")
    shutil.copytree(root / "notebooks", tmp_path / "notebooks")
    assert load_stack(tmp_path, "dev") is not load_stack(tmp_path, "dev")  # outside the block
    with loads_reused():
        first = load_stack(tmp_path, "dev")
        assert load_stack(tmp_path, "dev") is first

        definition = tmp_path / "stacks" / "pipelines" / "pl-stock-prices.yaml"
        definition.write_text(definition.read_text().replace("target: finance", "target: market"))
        second = load_stack(tmp_path, "dev")
        assert second is not first
        assert second.pipelines["pl-stock-prices"].target == "market"
        assert load_stack(tmp_path, "dev", only=["pl-stock-prices"]) is not second
