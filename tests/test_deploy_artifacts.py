"""What a pipeline puts in the workspace: paths, bytes and the rendered `%pip install` cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_deploy_support import write_notebooks

from laktory_pulumi.deploy.artifacts import (
    WHEEL_TOKEN,
    WorkspaceArtifact,
    deployed_library_path,
    pipeline_artifacts,
    render_notebook,
)
from laktory_pulumi.deploy.wheel import build_wheel
from laktory_pulumi.metadata import metadata_bytes
from laktory_pulumi.models import Pipeline

WHEEL = build_wheel().filename


def pipeline_named(name: str, *library_paths: str) -> Pipeline:
    return Pipeline.model_validate(
        {"name": name, "libraries": [{"notebook": {"path": path}} for path in library_paths]}
    )


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    return write_notebooks(tmp_path / "notebooks", ["dlt_brz_template.py", "dlt_slv_template.py"])


def by_key(artifacts: list[WorkspaceArtifact]) -> dict[str, WorkspaceArtifact]:
    return {artifact.key: artifact for artifact in artifacts}


def test_local_notebooks_metadata_and_wheel_land_under_the_laktory_root(notebooks: Path) -> None:
    pipeline = pipeline_named(
        "pl-a", "/pipelines/dlt_brz_template.py", "/pipelines/dlt_slv_template"
    )
    artifacts = by_key(pipeline_artifacts(pipeline, notebooks, "/lak/"))

    assert set(artifacts) == {
        "notebook/dlt_brz_template",
        "notebook/dlt_slv_template",
        "metadata",
        "wheel",
    }
    brz = artifacts["notebook/dlt_brz_template"]
    assert (brz.workspace_path, brz.kind) == ("/lak/pipelines/pl-a/dlt_brz_template", "notebook")
    # A library written without `.py` names the same local file, deployed at the same place.
    assert artifacts["notebook/dlt_slv_template"].workspace_path == (
        "/lak/pipelines/pl-a/dlt_slv_template"
    )
    metadata = artifacts["metadata"]
    assert (metadata.workspace_path, metadata.kind) == ("/lak/pipelines/pl-a.json", "file")
    assert metadata.content == metadata_bytes(pipeline)
    wheel = artifacts["wheel"]
    assert wheel.workspace_path == f"/lak/wheels/pl-a/{WHEEL}"
    assert wheel.content == build_wheel().content


def test_notebooks_install_the_wheel_deployed_next_to_them(notebooks: Path) -> None:
    pipeline = pipeline_named("pl-a", "/pipelines/dlt_brz_template.py")
    artifacts = by_key(pipeline_artifacts(pipeline, notebooks))
    notebook = artifacts["notebook/dlt_brz_template"].content.decode()

    assert WHEEL_TOKEN not in notebook
    assert f"# MAGIC %pip install /Workspace/.laktory/wheels/pl-a/{WHEEL}\n" in notebook
    # Only the token changes: the rest of the template is deployed as written.
    assert notebook.replace(f"/Workspace/.laktory/wheels/pl-a/{WHEEL}", WHEEL_TOKEN) == (
        (notebooks / "dlt_brz_template.py").read_text()
    )


def test_render_notebook_replaces_every_token_with_the_clusters_view_of_the_path() -> None:
    source = f"# MAGIC %pip install {WHEEL_TOKEN}\nprint('{WHEEL_TOKEN}')\n"
    assert render_notebook(source, "/r/w.whl") == (
        "# MAGIC %pip install /Workspace/r/w.whl\nprint('/Workspace/r/w.whl')\n"
    )
    assert render_notebook("print(1)\n", "/r/w.whl") == "print(1)\n"


def test_two_pipelines_sharing_a_template_get_their_own_copies(notebooks: Path) -> None:
    first = pipeline_artifacts(pipeline_named("pl-a", "/pipelines/dlt_brz_template.py"), notebooks)
    second = pipeline_artifacts(pipeline_named("pl-b", "/pipelines/dlt_brz_template.py"), notebooks)
    first_paths = {artifact.workspace_path for artifact in first}
    second_paths = {artifact.workspace_path for artifact in second}
    assert not first_paths & second_paths
    notebook_b = by_key(second)["notebook/dlt_brz_template"]
    assert b"/Workspace/.laktory/wheels/pl-b/" in notebook_b.content


def test_notebooks_not_found_locally_stay_as_written(notebooks: Path) -> None:
    pipeline = pipeline_named(
        "pl-a",
        "/pipelines/missing.py",
        "/Users/me@corp.com/my_notebook",
        "/pipelines/dlt_brz_template.py",
    )
    artifacts = pipeline_artifacts(pipeline, notebooks)

    assert [artifact.key for artifact in artifacts] == [
        "notebook/dlt_brz_template",
        "metadata",
        "wheel",
    ]
    assert deployed_library_path("pl-a", "/pipelines/missing.py", notebooks) == (
        "/pipelines/missing.py"
    )
    assert deployed_library_path("pl-a", "/Users/me@corp.com/my_notebook", notebooks) == (
        "/Users/me@corp.com/my_notebook"
    )
    assert deployed_library_path("pl-a", "/pipelines/dlt_brz_template.py", notebooks) == (
        "/.laktory/pipelines/pl-a/dlt_brz_template"
    )


def test_a_notebook_listed_twice_is_deployed_once(notebooks: Path) -> None:
    pipeline = pipeline_named(
        "pl-a", "/pipelines/dlt_brz_template.py", "/pipelines/dlt_brz_template"
    )
    keys = [artifact.key for artifact in pipeline_artifacts(pipeline, notebooks)]
    assert keys == ["notebook/dlt_brz_template", "metadata", "wheel"]
