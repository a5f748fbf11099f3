"""The Pulumi program collects rarely, and a process that runs it in-process gets its own
collector thresholds back (`gc_pause`).

The program's objects (the loaded stack, every resource's inputs, outputs and futures) live
until it ends, so full collections during the registrations free nothing; they cost a quarter
of the offline preview of 200 pipelines (bench/bench_deploy_scale.py). The engine is mocked
(`deploy.preview.run_under_mocks`), as for `laktory-pulumi preview`.
"""

from __future__ import annotations

import contextvars
import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_deploy_support import copy_project

from laktory_pulumi.deploy.preview import (
    OfflineMocks,
    PlannedResource,
    engine_config_of,
    run_under_mocks,
)
from laktory_pulumi.deploy.program import deploy_stack
from laktory_pulumi.gc_pause import PROGRAM_THRESHOLDS, collector_thresholds_kept
from laktory_pulumi.loader import StackConfig

PYTHON_DEFAULT = (700, 10, 10)


def _under_mocks(project: Path, program: Callable[[], None]) -> list[PlannedResource]:
    """`program` as `laktory-pulumi preview` runs it, the workspace holding catalog `dev`."""
    config, secret_keys = engine_config_of(StackConfig.read(project, "dev").raw)
    mocks = OfflineMocks(catalogs={"dev"})
    return contextvars.Context().run(
        run_under_mocks, program, "lakehouse", "dev", config, secret_keys, mocks
    )


@pytest.fixture
def python_default_thresholds() -> Iterator[None]:
    with collector_thresholds_kept():
        gc.set_threshold(*PYTHON_DEFAULT)
        yield


def test_the_program_collects_rarely_and_the_preview_restores_the_thresholds(
    tmp_path: Path, python_default_thresholds: None
) -> None:
    project = copy_project(tmp_path / "project")
    during: list[tuple[int, int, int]] = []

    def program() -> None:
        deploy_stack(project)
        # What the rest of the registrations, resolved after the program's code, run under.
        during.append(gc.get_threshold())

    planned = _under_mocks(project, program)
    assert any(resource.type == "laktory:databricks:Pipeline" for resource in planned)
    assert during == [PROGRAM_THRESHOLDS]
    assert gc.get_threshold() == PYTHON_DEFAULT


def test_the_preview_restores_the_thresholds_when_the_program_fails(
    tmp_path: Path, python_default_thresholds: None
) -> None:
    project = copy_project(tmp_path / "project")

    def program() -> None:
        deploy_stack(project)
        raise RuntimeError("the program failed after its registrations began")

    with pytest.raises(Exception, match="the program failed"):
        _under_mocks(project, program)
    assert gc.get_threshold() == PYTHON_DEFAULT
