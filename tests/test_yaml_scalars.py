"""The types our loader gives plain scalars: YAML 1.1's, as PyYAML's safe loader gives them.

`loader.yaml_loader` remembers each plain scalar's resolved tag; these pin what the loader
produced before it did, each value read twice (the second answered from memory), plain and
quoted, and against PyYAML's own safe loaders.
"""

from __future__ import annotations

import datetime
import math

import pytest
import yaml

from laktory_pulumi.loader.yaml_loader import FastSafeLoader
from laktory_pulumi.loader.yaml_source import parse_yaml

UTC = datetime.timezone.utc

PINNED: list[tuple[str, object]] = [
    ("yes", True),
    ("Yes", True),
    ("on", True),
    ("ON", True),
    ("y", "y"),
    ("no", False),
    ("off", False),
    ("Off", False),
    ("n", "n"),
    ("true", True),
    ("False", False),
    ("~", None),
    ("null", None),
    ("", None),
    ("0755", 493),
    ("0o17", "0o17"),
    ("0x1f", 31),
    ("1_000", 1000),
    ("1:30", 90),
    ("-12", -12),
    ("1e3", "1e3"),
    ("1.0e3", "1.0e3"),
    ("1.0e+3", 1000.0),
    ("3.25", 3.25),
    (".5", 0.5),
    ("1:30.5", 90.5),
    (".inf", math.inf),
    ("-.Inf", -math.inf),
    ("2024-05-24", datetime.date(2024, 5, 24)),
    ("2024-05-24T06:00:00Z", datetime.datetime(2024, 5, 24, 6, 0, tzinfo=UTC)),
    ("2024-05-24 06:00:00", datetime.datetime(2024, 5, 24, 6, 0)),
    ("1 day", "1 day"),
    ("string", "string"),
    ("decimal(18,2)", "decimal(18,2)"),
    ("NO", False),
    ("Norway", "Norway"),
]


def _load(value: str) -> object:
    text = f"a: {value}\nb: {value}\nc: '{value}'\n"
    data = parse_yaml(text, "scalars.yaml").data
    assert data["c"] == value, "a quoted scalar stays text"
    assert data["a"] == data["b"] and type(data["a"]) is type(data["b"])
    return data["a"]


@pytest.mark.parametrize(("written", "expected"), PINNED, ids=[w or "empty" for w, _ in PINNED])
def test_plain_scalar_types_are_pinned(written: str, expected: object) -> None:
    value = _load(written)
    assert type(value) is type(expected)
    assert value == expected


@pytest.mark.parametrize("written", [w for w, _ in PINNED if w], ids=[w for w, _ in PINNED if w])
def test_same_tags_as_pyyaml_safe_loaders(written: str) -> None:
    text = f"- {written}\n- [{written}, {{k: {written}}}]\n- {written}\n"
    ours = yaml.load(text, Loader=FastSafeLoader)
    for loader in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        theirs = yaml.load(text, Loader=loader)
        assert repr(ours) == repr(theirs), loader


def test_keys_and_nested_values_keep_their_types() -> None:
    text = "on: yes\nlist: [1, '1', 1.0, off, 2024-01-02]\nnested: {x: 0755, y: null}\n"
    for _ in range(2):
        data = parse_yaml(text, "keys.yaml").data
        # A key as written: YAML 1.1 reads `on:` (a join's key) as the boolean true.
        assert data == {
            "on": True,
            "list": [1, "1", 1.0, False, datetime.date(2024, 1, 2)],
            "nested": {"x": 493, "y": None},
        }
        assert type(data["list"][0]) is int and type(data["list"][2]) is float
