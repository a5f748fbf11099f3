"""Findings of a pipeline's fields, placed at their line and column in the pipeline's file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..loader.errors import LocatedError
from ..loader.yaml_source import parse_yaml
from ..models.base import format_path

if TYPE_CHECKING:
    from ..loader.stack import Stack
    from ..models import Pipeline

FieldPath = tuple[str | int, ...]
"""Where a finding is, as a path of the pipeline's fields (`("tables", 0, "builder")`)."""


def locate(file: Path, project: Path, found: Iterable[tuple[FieldPath, str]]) -> list[LocatedError]:
    """(path, message) findings at the line and column of their field, through the loader's
    YAML positions; the file is shown relative to the project when it lies in it."""
    found = list(found)
    if not found:
        return []
    try:
        shown = str(file.resolve().relative_to(Path(project).resolve()))
    except ValueError:
        shown = str(file)
    source = parse_yaml(file.read_text(), shown)
    return [source.error(path, format_path(path), message) for path, message in found]


def located_in_stack(
    stack: Stack, project: Path, find: Callable[[Pipeline], list[tuple[FieldPath, str]]]
) -> list[LocatedError]:
    """What `find` says of each pipeline of the stack, located in its file."""
    located: list[LocatedError] = []
    for name, pipeline in stack.pipelines.items():
        located += locate(stack.files[name], project, find(pipeline))
    return located
