"""YAML: merge keys work with positions; cycles, deep nesting and bad bytes are located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from laktory_pulumi.loader import LoadError, load_cluster_file, load_pipeline_file
from laktory_pulumi.loader.yaml_source import MAX_DEPTH, parse_yaml

MERGED = """\
name: pl-merge
clusters:
  - &base
    name: default
    node_type_id: Standard_DS3_v2
    num_workers: 1
  - <<: *base
    name: maintenance
"""


def only_error(path: Path) -> str:
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, {})
    assert len(caught.value.errors) == 1, caught.value.errors
    return str(caught.value.errors[0])


def test_merge_keys_work_and_keep_positions(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(MERGED)
    pipeline = load_pipeline_file(path, {})
    default, maintenance = pipeline.clusters
    assert (maintenance.name, maintenance.node_type_id, maintenance.num_workers) == (
        "maintenance",
        "Standard_DS3_v2",
        1,
    )
    assert default.name == "default"
    source = parse_yaml(MERGED, "p.yaml")
    # The merged value keeps the line where it is written (the anchor's), the own key its own.
    assert source.value_marks[("clusters", 1, "node_type_id")] == (5, 19)
    assert source.value_marks[("clusters", 1, "name")] == (8, 11)


def test_a_merged_value_that_is_wrong_is_blamed_at_its_anchor(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(MERGED.replace("num_workers: 1", "num_workers: many"))
    with pytest.raises(LoadError) as caught:
        load_pipeline_file(path, {})
    assert [(e.line, e.field) for e in caught.value.errors] == [
        (6, "clusters[0].num_workers"),
        (6, "clusters[1].num_workers"),
    ]


def test_a_self_referencing_alias_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nconfiguration: &c\n  self: *c\n")
    assert only_error(path).endswith("refers to a mapping or list that holds it")


def test_5000_deep_nesting_is_a_located_error_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nconfiguration: " + "[" * 5000 + "]" * 5000 + "\n")
    message = only_error(path)
    assert f":2:{15 + MAX_DEPTH}: (yaml): nesting deeper than {MAX_DEPTH} levels" in message


def test_a_non_utf8_pipeline_file_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"name: p\ntarget: caf\xe9\n")
    assert (
        only_error(path) == f"{path}:2:12: (file): byte 0xe9 is not UTF-8; save the file as UTF-8"
    )


def test_a_non_utf8_cluster_file_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"name: c\n\xff\xfe: x\n")
    with pytest.raises(LoadError) as caught:
        load_cluster_file(path, {})
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:2:1: (file): byte 0xff is not UTF-8; save the file as UTF-8"
    ]


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes("\ufeffname: pl-bom\n".encode())
    assert load_pipeline_file(path, {}).name == "pl-bom"


def test_an_impossible_date_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\ntarget: 2024-13-45\n")
    assert ":2:9: target: '2024-13-45' cannot be read" in only_error(path)


def test_aliases_that_expand_exponentially_are_a_located_error(tmp_path: Path) -> None:
    lines = ["name: p", "configuration:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        lines.append(f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    path = tmp_path / "p.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert "aliases expand to more than" in only_error(path)


def test_an_autoscaling_mode_on_an_all_purpose_cluster_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    # `databricks.Cluster` has no autoscaling mode: accepted, it would do nothing.
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: c\nspark_version: 16.4.x-scala2.12\nnode_type_id: Standard_DS3_v2\n"
        "autoscale:\n  min_workers: 1\n  max_workers: 2\n  mode: ENHANCED\n"
    )
    with pytest.raises(LoadError) as caught:
        load_cluster_file(path, {})
    (error,) = caught.value.errors
    assert str(error).startswith(f"{path}:4:1: autoscale: ")
    assert "pipeline cluster's setting" in str(error)
