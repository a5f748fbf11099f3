"""YAML parsed together with where each value stands in the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import LoadError, LocatedError

Path = tuple[str | int, ...]
Mark = tuple[int, int]


@dataclass
class YamlSource:
    """Parsed data, and 1-based (line, column) marks of every value and every mapping key."""

    file: str
    data: Any
    value_marks: dict[Path, Mark] = field(default_factory=dict)
    key_marks: dict[Path, Mark] = field(default_factory=dict)
    variables: dict[Path, str] = field(default_factory=dict)
    """The text of every value that held a `${scope.NAME}` variable, by path, once substituted."""

    def mark_of(self, path: Path, *, key: bool = False) -> Mark:
        """Mark of the value at `path` (of its key with `key=True`), or of its nearest parent."""
        marks = self.key_marks if key else self.value_marks
        if path in marks:
            return marks[path]
        for end in range(len(path) - 1, -1, -1):
            if path[:end] in self.value_marks:
                return self.value_marks[path[:end]]
        return (1, 1)

    def error(
        self, path: Path, field_path: str, message: str, *, key: bool = False
    ) -> LocatedError:
        """A located error at `path`."""
        line, column = self.mark_of(path, key=key)
        return LocatedError(self.file, line, column, field_path, message)


def _mark(node: yaml.Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Walker:
    def __init__(self, source: YamlSource, constructor: yaml.SafeLoader) -> None:
        self.source = source
        self.constructor = constructor
        self.errors: list[LocatedError] = []

    def walk(self, node: yaml.Node, path: Path) -> Any:
        self.source.value_marks[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.constructor.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    # A key as written: YAML 1.1 reads `on:` (a join's key) as the boolean true.
                    scalar = isinstance(key_node, yaml.ScalarNode) and isinstance(key, bool)
                    key = key_node.value if scalar else str(key)
                if key in result:
                    line, column = _mark(key_node)
                    first_line = self.source.key_marks[(*path, key)][0]
                    from ..models.base import format_path

                    self.errors.append(
                        LocatedError(
                            self.source.file,
                            line,
                            column,
                            format_path((*path, key)),
                            f"key '{key}' appears twice in this mapping (first at line "
                            f"{first_line})",
                        )
                    )
                    continue
                self.source.key_marks[(*path, key)] = _mark(key_node)
                result[key] = self.walk(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*path, index)) for index, item in enumerate(node.value)]
        # A scalar has no children: its tag's constructor alone builds it, without
        # `construct_object`'s bookkeeping (a quarter of a large stack's load time).
        construct = self.constructor.yaml_constructors.get(node.tag)
        if construct is None:
            return self.constructor.construct_object(node, deep=True)
        return construct(self.constructor, node)


def _at(mark: yaml.Mark | None) -> Mark:
    return (mark.line + 1, mark.column + 1) if mark else (1, 1)


def _syntax_error(error: yaml.MarkedYAMLError) -> tuple[Mark, str]:
    """Where a YAML syntax error is best fixed, and what it is in plain words.

    The cases not recognised here keep PyYAML's own text.
    """
    context, problem = error.context or "", error.problem or ""
    raw = " ".join(part for part in (context, problem) if part)
    where = _at(error.problem_mark or error.context_mark)
    if "'\\t'" in problem:  # PyYAML shows the tab escaped
        return where, "a tab cannot indent YAML; indent with spaces"
    if "quoted scalar" in context and "end of stream" in problem and error.context_mark:
        return _at(error.context_mark), "this quoted string is never closed"
    if context.startswith("while parsing a flow") and error.context_mark:
        opened = "[" if "sequence" in context else "{"
        line, column = where
        return _at(error.context_mark), (
            f"this '{opened}' is not closed: {problem} at line {line}, column {column}"
        )
    if "expected <block end>" in problem and error.context_mark:
        start_line, start_column = _at(error.context_mark)
        return where, (
            f"bad indentation: no mapping above has its keys at column {where[1]} (the "
            f"enclosing one, from line {start_line}, has them at column {start_column})"
        )
    if "mapping values are not allowed here" in problem:
        return where, (
            "unexpected ':': the line is indented too deep, or a value holding ': ' needs quotes"
        )
    return where, raw


# LibYAML's parser, when PyYAML was built with it, composes about ten times faster.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, file: str) -> YamlSource:
    """Parse one YAML document, keeping marks; a syntax error becomes a `LoadError`."""
    try:
        return _parse(text, file, _FAST_LOADER)
    except yaml.MarkedYAMLError:
        # The pure-Python parser words errors as `_syntax_error` expects; LibYAML does not.
        return _parse(text, file, yaml.SafeLoader)


def _parse(text: str, file: str, loader_class: type[yaml.SafeLoader]) -> YamlSource:
    source = YamlSource(file=file, data=None)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            what = "holds only comments" if text.strip() else "is empty"
            raise LoadError(
                [
                    LocatedError(
                        file, 1, 1, "(file)", f"the file {what}; expected a mapping of fields"
                    )
                ]
            )
        walker = _Walker(source, loader)
        source.data = walker.walk(node, ())
    except yaml.MarkedYAMLError as error:
        if loader_class is not yaml.SafeLoader:
            raise
        (line, column), problem = _syntax_error(error)
        raise LoadError([LocatedError(file, line, column, "(yaml)", problem)]) from None
    finally:
        loader.dispose()
    if walker.errors:
        raise LoadError(walker.errors)
    return source
