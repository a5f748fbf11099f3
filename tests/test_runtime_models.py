"""The models `read_metadata` gives a notebook: their private attributes, set without pydantic's
per-default look-ups (`runtime.models._private_attributes_set_up`), are all there and link each
table to its pipeline and each builder to its table."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import PrivateAttr

from laktory_pulumi.loader import load_stack
from laktory_pulumi.metadata import (
    WORKSPACE_ROOT_ENV,
    metadata_bytes,
    metadata_workspace_path,
    read_metadata,
)
from laktory_pulumi.models import Pipeline
from laktory_pulumi.models.base import BackRef
from laktory_pulumi.runtime.models import (
    RuntimeTable,
    RuntimeTableBuilder,
    _private_attributes_set_up,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stock_pipeline() -> Pipeline:
    return load_stack(REPO, "dev").pipelines["pl-stock-prices"]


def test_read_back_tables_link_to_their_pipeline_and_builders_to_their_table(
    tmp_path: Path, stock_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / metadata_workspace_path(stock_pipeline.name).lstrip("/")
    path.parent.mkdir(parents=True)
    path.write_bytes(metadata_bytes(stock_pipeline))
    monkeypatch.setenv(WORKSPACE_ROOT_ENV, str(tmp_path))

    pipeline = read_metadata(stock_pipeline.name)

    assert pipeline == stock_pipeline
    for table in pipeline.tables:
        assert set(table.__pydantic_private__) == set(RuntimeTable.__private_attributes__)
        assert table._pipeline.target is pipeline
        assert set(table.builder.__pydantic_private__) == set(
            RuntimeTableBuilder.__private_attributes__
        )
        assert table.builder._table.target is table
        assert table.builder.table is table
        assert [column.name for column in table.columns] == [
            column.name for column in stock_pipeline.table(table.name).columns
        ]


def test_a_table_validated_alone_has_every_private_attribute() -> None:
    table = RuntimeTable.model_validate(
        {"name": "slv_x", "builder": {"layer": "SILVER", "table_source": {"name": "brz_x"}}}
    )
    assert table._pipeline == BackRef() and table._pipeline.target is None
    assert table.builder._table.target is table
    assert table.columns == []


def test_a_private_attribute_without_a_default_is_refused_at_import() -> None:
    class WithTwo(RuntimeTableBuilder):
        _extra: int = PrivateAttr(default=0)

    with pytest.raises(TypeError, match="_extra"):
        _private_attributes_set_up(WithTwo, _table=BackRef)
