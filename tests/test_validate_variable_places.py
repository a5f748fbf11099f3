"""Substitution at the places the parser noted gives what a visit of every value gave.

`parse_yaml` notes where the text holds `${` (`YamlSource.with_variables`); `substitute` then
replaces only there. The same source with that list dropped is visited value by value, as a
source built from data is: both must give the same data, secret paths and errors, in order.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest

from laktory_pulumi.loader import LoadError
from laktory_pulumi.loader.variables import substitute
from laktory_pulumi.loader.yaml_source import YamlSource, parse_yaml

TEXT = """\
name: pl-${vars.name}
base: &base
  catalog: ${vars.catalog}
  retries: ${vars.retries}
merged:
  <<: *base
  retries: own-${vars.retries}
configuration:
  token: ${env.A_TOKEN}
  quoted: '${vars.retries}'
  ${vars.key}: value
  conf: ${conf.token}
  missing: ${vars.nope}
tables:
  - name: t
    data:
      - - ${vars.catalog}
        - 1
        - 'x-${vars.name}'
    columns:
      - ${vars.name}
      - "${vars.name}-b"
      - plain
  - ${vars.list}
"""
VARIABLES = {"name": "n", "catalog": "dev", "retries": 3, "key": "k", "list": ["a", "b"]}


def _outcome(source: YamlSource) -> tuple[object, object, list[str]]:
    try:
        secret = substitute(source, VARIABLES, {"A_TOKEN": "t"}, secret_variables={"retries"})
    except LoadError as error:
        return source.data, None, [str(e) for e in error.errors]
    return source.data, sorted(secret, key=str), []


@pytest.mark.parametrize("text", [TEXT, TEXT.replace("  missing: ${vars.nope}\n", "")])
def test_noted_places_give_what_visiting_every_value_gives(text: str) -> None:
    noted = parse_yaml(text, "p.yaml")
    assert noted.with_variables is not None and noted.with_variables
    visited = dataclasses.replace(parse_yaml(text, "p.yaml"), with_variables=None, variables={})
    visited.data = copy.deepcopy(visited.data)
    assert _outcome(noted) == _outcome(visited)
    assert noted.variables == visited.variables


def test_a_text_without_variables_notes_none() -> None:
    source = parse_yaml("name: a\nlist: [x, {y: z}]\n", "p.yaml")
    assert source.with_variables == []
