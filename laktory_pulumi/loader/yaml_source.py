"""YAML parsed together with where each value stands in the file."""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Collection, Container, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..models.base import format_path
from .errors import LoadError, LocatedError
from .yaml_loader import FastSafeLoader

Path = tuple[str | int, ...]
PathLike = str | os.PathLike[str]
Mark = tuple[int, int]


@dataclass
class YamlSource:
    """Parsed data, and 1-based (line, column) marks of every value and every mapping key.

    The marks of a parsed file are read from its YAML nodes when asked (`NodeMarks`): only
    an error, a `defined_at` or a principal's line needs one, and recording the mark of every
    value of a large stack as it was parsed cost more than building the values.
    """

    file: str
    data: Any
    value_marks: Mapping[Path, Mark] = field(default_factory=dict)
    key_marks: Mapping[Path, Mark] = field(default_factory=dict)
    variables: dict[Path, str] = field(default_factory=dict)
    """The text of every value that held a `${scope.NAME}` variable, by path, once substituted."""
    quoted: Container[Path] = field(default_factory=set)
    """Paths of the scalars written in quotes: a quoted variable becomes text."""
    mapping_marks: dict[Path, Mark] = field(default_factory=dict)
    """The mark of every mapping, by path, recorded as the file is parsed: a few hundred per
    file, and what `defined_at` asks for every table, column and expectation (read from the
    nodes, each would walk from the root)."""
    with_variables: list[tuple[Path, bool]] | None = None
    """Where the parsed text may hold a `${...}` variable, in the data's order: (path of a
    text value, False) or (path of a mapping key, True), recorded as the file is parsed so
    that `loader.variables.substitute` visits only those; None when not known (data given)."""

    def mark_of(self, path: Path, *, key: bool = False) -> Mark:
        """Mark of the value at `path` (of its key with `key=True`), or of its nearest parent."""
        if not key and path in self.mapping_marks:
            return self.mapping_marks[path]
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

    def marks_under(self, roots: Container[str], depth: int) -> dict[Path, Mark]:
        """The value marks of every path at most `depth` deep under a top-level key of `roots`."""
        if isinstance(self.value_marks, NodeMarks):
            return self.value_marks.under(roots, depth)
        return {
            path: mark
            for path, mark in self.value_marks.items()
            if path and path[0] in roots and len(path) <= depth
        }

    def marks_of_keys(self, names: Collection[str]) -> dict[Path, Mark]:
        """The value marks of every path whose last key is one of `names`."""
        if isinstance(self.value_marks, NodeMarks):
            # The keys of the mappings the parser met (`mapping_marks`, a few hundred), looked
            # up in the data, then the marks of those few read from the nodes: the nodes' own
            # walk reads every key of the file, a walk of the data every value. A mapping a
            # variable gave has no node, hence no mark, and is not among them.
            marks = self.value_marks
            found: dict[Path, Mark] = {}
            for mapping_path in self.mapping_marks:
                mapping = _data_at(self.data, mapping_path)
                if not isinstance(mapping, dict):
                    continue
                for name in names:
                    if name in mapping:
                        path = (*mapping_path, name)
                        mark = marks.get(path)
                        if mark is not None:
                            found[path] = mark
            return found
        return {
            path: mark
            for path, mark in self.value_marks.items()
            if path and isinstance(path[-1], str) and path[-1] in names
        }


def _data_at(data: Any, path: Path) -> Any:
    """The value at `path` of plain dicts and lists, None where the path leads nowhere."""
    for part in path:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


_STR_TAG = "tag:yaml.org,2002:str"


def _paths_ending_in(data: Any, names: Container[str], path: Path) -> Iterator[Path]:
    """Every path of `data` whose last key is one of `names`, depth first."""
    if isinstance(data, dict):
        for key, value in data.items():
            inner = (*path, key)
            if isinstance(key, str) and key in names:
                yield inner
            if isinstance(value, (dict, list)):
                yield from _paths_ending_in(value, names, inner)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if isinstance(value, (dict, list)):
                yield from _paths_ending_in(value, names, (*path, index))


def key_of(constructor: yaml.SafeLoader, key_node: yaml.Node) -> str | None:
    """A mapping key as the data has it; None for a key that is not a plain value."""
    if not isinstance(key_node, yaml.ScalarNode):
        return None
    if key_node.tag == _STR_TAG:
        return key_node.value
    key = constructor.construct_object(key_node, deep=True)
    if isinstance(key, bool):
        # A key as written: YAML 1.1 reads `on:` (a join's key) as the boolean true.
        return key_node.value
    return key if isinstance(key, str) else str(key)


def _merge_sources(node: yaml.Node) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else [node]


def _entries(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """A mapping's entries in the order the data takes them: its own (first of duplicates),
    then those of each mapping it merges (`<<`), as `_Walker._mapping` does."""
    merged: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            merged.extend(_merge_sources(value_node))
        else:
            yield key_node, value_node
    for source in merged:
        if isinstance(source, yaml.MappingNode) and source is not node:
            yield from _flattened(source)


def _flattened(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """A merged mapping's own entries, then those it merges itself (at most MAX_DEPTH)."""
    entries: list[tuple[yaml.Node, yaml.Node]] = []
    nested: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            nested.extend(_merge_sources(value_node))
        else:
            entries.append((key_node, value_node))
    seen = {id(node)}
    while nested and len(seen) < MAX_DEPTH:
        inner = nested.pop(0)
        if not isinstance(inner, yaml.MappingNode) or id(inner) in seen:
            continue
        seen.add(id(inner))
        for key_node, value_node in inner.value:
            if key_node.tag == _MERGE_TAG:
                nested.append(value_node)
            else:
                entries.append((key_node, value_node))
    return entries


class NodeMarks(Mapping[Path, Mark]):
    """Marks of a parsed file's values (or keys), read from its nodes by path when asked."""

    def __init__(self, root: yaml.Node, constructor: yaml.SafeLoader, *, keys: bool) -> None:
        self.root, self.constructor, self.keys = root, constructor, keys

    def node_at(self, path: Path) -> tuple[yaml.Node | None, yaml.Node] | None:
        """(key node, value node) at `path`, None where the path leads nowhere."""
        key_node: yaml.Node | None = None
        node = self.root
        for part in path:
            if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return None
                key_node, node = None, node.value[part]
            elif isinstance(node, yaml.MappingNode):
                found = next(
                    ((k, v) for k, v in _entries(node) if key_of(self.constructor, k) == part),
                    None,
                )
                if found is None:
                    return None
                key_node, node = found
            else:
                return None
        return key_node, node

    def __getitem__(self, path: Path) -> Mark:
        found = self.node_at(path)
        if found is None or (self.keys and found[0] is None):
            raise KeyError(path)
        return _mark(found[0] if self.keys else found[1])  # type: ignore[arg-type]

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, tuple):
            return False
        found = self.node_at(path)
        return found is not None and (not self.keys or found[0] is not None)

    def _walk(self) -> Iterator[tuple[Path, yaml.Node | None, yaml.Node]]:
        """Every (path, key node, value node), depth first; an alias is followed once per
        place it is used, as the data repeats it (cycles and depth bounded as the walker's)."""
        stack: list[tuple[Path, yaml.Node | None, yaml.Node, frozenset[int]]] = [
            ((), None, self.root, frozenset())
        ]
        while stack:
            path, key_node, node, open_ = stack.pop()
            yield path, key_node, node
            if id(node) in open_ or len(path) >= MAX_DEPTH:
                continue
            inner = open_ | {id(node)}
            if isinstance(node, yaml.SequenceNode):
                children = [(None, item, index) for index, item in enumerate(node.value)]
            elif isinstance(node, yaml.MappingNode):
                children, seen = [], set()
                for k, v in _entries(node):
                    key = key_of(self.constructor, k)
                    if key is not None and key not in seen:
                        seen.add(key)
                        children.append((k, v, key))
            else:
                continue
            for k, v, part in reversed(children):
                stack.append(((*path, part), k, v, inner))

    def __iter__(self) -> Iterator[Path]:
        for path, key_node, _ in self._walk():
            if not self.keys or key_node is not None:
                yield path

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def under(self, roots: Container[str], depth: int) -> dict[Path, Mark]:
        """The value marks of the paths at most `depth` deep under a top-level key of `roots`
        (walking only those levels, not the whole file)."""
        found: dict[Path, Mark] = {}
        stack: list[tuple[Path, yaml.Node]] = [((), self.root)]
        while stack:
            path, node = stack.pop()
            if path:
                found[path] = _mark(node)
            if len(path) >= depth:
                continue
            if isinstance(node, yaml.SequenceNode):
                stack.extend(((*path, index), item) for index, item in enumerate(node.value))
            elif isinstance(node, yaml.MappingNode):
                for key_node, value_node in _entries(node):
                    key = key_of(self.constructor, key_node)
                    if key is not None and (path or key in roots):
                        stack.append(((*path, key), value_node))
        return found

    def of_keys(self, names: Container[str]) -> dict[Path, Mark]:
        """The marks of the paths whose last key is one of `names`."""
        return {
            path: _mark(key_node if self.keys else node)  # type: ignore[arg-type]
            for path, key_node, node in self._walk()
            if path and isinstance(path[-1], str) and path[-1] in names
        }


class QuotedScalars(Container[Path]):
    """Whether the scalar at a path was written in quotes, read from its node when asked."""

    def __init__(self, marks: NodeMarks) -> None:
        self.marks = marks

    def __contains__(self, path: object) -> bool:
        found = self.marks.node_at(path) if isinstance(path, tuple) else None
        return found is not None and getattr(found[1], "style", None) in ("'", '"')


def _mark(node: yaml.Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column + 1


MAX_DEPTH = 100
"""Deepest nesting of mappings and lists accepted; real definitions stay under 15 levels."""

_MERGE_TAG = "tag:yaml.org,2002:merge"

MAX_ALIASED_VALUES = 100_000
"""Most values reached again through aliases: nested aliases multiply (`&b [*a, *a, ...]`), and a
few lines could otherwise expand to billions of values."""


# YAML 1.2 core schema's plain booleans, integers and floats (https://yaml.org/spec/1.2.2/,
# 10.3.2 "Tag Resolution"); YAML 1.1, which PyYAML follows, also reads `yes`, `no`, `on`, `off`,
# `0755` (octal), `1_000` and `1:30` (sexagesimal) as such.
_YAML12_CORE = {
    "tag:yaml.org,2002:bool": re.compile(r"true|True|TRUE|false|False|FALSE"),
    "tag:yaml.org,2002:int": re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"),
    "tag:yaml.org,2002:float": re.compile(
        r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
    ),
}


_DECIMAL = re.compile(r"[-+]?[0-9]+")


def _is_static_cell(path: Path) -> bool:
    """A value of a table's static rows: `tables[i].data[row][column]`."""
    return (
        len(path) >= 3
        and path[-3] == "data"
        and isinstance(path[-2], int)
        and isinstance(path[-1], int)
    )


def _yaml11_only(node: yaml.Node) -> bool:
    """A plain scalar YAML 1.1 reads as a boolean or number where YAML 1.2 reads text."""
    pattern = _YAML12_CORE.get(node.tag)
    # A plain scalar has no style: None from PyYAML's parser, "" from LibYAML's.
    return not node.style and pattern is not None and not pattern.fullmatch(node.value)


class _Walker:
    def __init__(
        self, source: YamlSource, constructor: yaml.SafeLoader, *, aliases: bool = True
    ) -> None:
        self.source = source
        self.constructor = constructor
        self.aliases = aliases
        """Whether the text may hold aliases (`*name`): without, no node is reached twice and
        none can hold itself, so the walk keeps no account of the nodes it has seen."""
        self.errors: list[LocatedError] = []
        self.with_variables: list[tuple[Path, bool]] = []
        """What becomes `YamlSource.with_variables`."""
        self.open: set[int] = set()
        """Ids of the collection nodes being walked: an alias to one of them is a cycle."""
        self.seen: set[int] = set()
        self.aliased = 0

    def walk(self, node: yaml.Node, path: Path) -> Any:
        if self.aliases:
            self._count_visit(node, path)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if self.aliases and id(node) in self.open:
                self._error(node, path, "this alias refers to a mapping or list that holds it")
                return None
            if len(path) >= MAX_DEPTH:
                self._error(node, path, f"nesting deeper than {MAX_DEPTH} levels")
                return None
            if not self.aliases:  # `_collection`, without a call per collection
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path)
                return [self.walk(item, (*path, index)) for index, item in enumerate(node.value)]
            self.open.add(id(node))
            try:
                return self._collection(node, path)
            finally:
                self.open.discard(id(node))
        if node.tag == _STR_TAG and (
            # `_is_static_cell`, its common answer first: most text is no cell of `data`
            node.style or len(path) < 3 or path[-3] != "data" or not _is_static_cell(path)
        ):
            if "${" in node.value:
                self.with_variables.append((path, False))
            return node.value  # what the constructor of text returns, without the calls
        if _is_static_cell(path):
            if _yaml11_only(node):
                # Static `data` values are read with YAML 1.2's scalars: `NO` (Norway) and
                # `ON` (Ontario) stay text, which the column's declared type then casts.
                return node.value
            if not node.style and _DECIMAL.fullmatch(node.value):
                return int(node.value)  # `0755` is 755 in YAML 1.2, not octal 493
            if node.tag == _STR_TAG:
                if "${" in node.value:
                    self.with_variables.append((path, False))
                return node.value
        # A scalar has no children: its tag's constructor alone builds it, without
        # `construct_object`'s bookkeeping (a quarter of a large stack's load time).
        construct = self.constructor.yaml_constructors.get(node.tag)
        try:
            if construct is None:
                return self.constructor.construct_object(node, deep=True)
            return construct(self.constructor, node)
        except (ValueError, TypeError, OverflowError) as error:
            # e.g. a date such as 2024-13-45, which YAML's resolver takes for a timestamp
            self._error(node, path, f"'{node.value}' cannot be read: {error}; quote it")
            return None

    def _count_visit(self, node: yaml.Node, path: Path) -> None:
        """Count the values reached again through aliases; too many is an error."""
        if id(node) not in self.seen:
            self.seen.add(id(node))
            return
        self.aliased += 1
        if self.aliased > MAX_ALIASED_VALUES:
            line, column = _mark(node)
            raise LoadError(
                [
                    LocatedError(
                        self.source.file,
                        line,
                        column,
                        format_path(path) or "(root)",
                        f"aliases expand to more than {MAX_ALIASED_VALUES} values",
                    )
                ]
            )

    def _collection(self, node: yaml.Node, path: Path) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        return [self.walk(item, (*path, index)) for index, item in enumerate(node.value)]

    def _error(self, node: yaml.Node, path: Path, message: str) -> None:
        line, column = _mark(node)
        self.errors.append(
            LocatedError(self.source.file, line, column, format_path(path) or "(root)", message)
        )

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        """A mapping's keys and values; `<<: *base` merges keys the mapping does not set itself."""
        self.source.mapping_marks.setdefault(path, _mark(node))
        result: dict[Any, Any] = {}
        merged: list[yaml.MappingNode] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for merge_source in sources:
                    if not isinstance(merge_source, yaml.MappingNode):
                        self._error(
                            merge_source,
                            (*path, "<<"),
                            "'<<' merges a mapping (or a list of mappings), e.g. <<: *base",
                        )
                        continue
                    merged.append(merge_source)
            else:
                own.append((key_node, value_node))
        keyed = [
            (
                # `_key`, its common case first: a plain text key
                key_node.value
                if key_node.tag == _STR_TAG and isinstance(key_node, yaml.ScalarNode)
                else self._key(key_node),
                key_node,
                value_node,
            )
            for key_node, value_node in own
        ]
        if merged:
            own_keys = {key for key, _, _ in keyed}
            for merge_source in merged:
                if id(merge_source) in self.open:
                    self._error(merge_source, path, "this alias merges a mapping that holds it")
                    continue
                for key_node, value_node in _flattened(merge_source):
                    key = self._key(key_node)
                    if key in own_keys or key in result:
                        continue  # the mapping's own keys, then earlier merges, win
                    result[key] = self._entry(key, value_node, path)
        for key, key_node, value_node in keyed:
            if key in result:  # merges gave no own key: an own key seen before
                self._duplicate(key, key_node, keyed, path)
                continue
            if "${" in key:  # `_entry`, without a call per key
                self.with_variables.append(((*path, key), True))
            result[key] = self.walk(value_node, (*path, key))
        return result

    def _entry(self, key: str, value_node: yaml.Node, path: Path) -> Any:
        """The value of a mapping's `key`, noting first whether the key holds a variable."""
        if "${" in key:
            self.with_variables.append(((*path, key), True))
        return self.walk(value_node, (*path, key))

    def _duplicate(
        self,
        key: str,
        key_node: yaml.Node,
        keyed: list[tuple[str, yaml.Node, yaml.Node]],
        path: Path,
    ) -> None:
        first_line = _mark(next(node for name, node, _ in keyed if name == key))[0]
        line, column = _mark(key_node)
        self.errors.append(
            LocatedError(
                self.source.file,
                line,
                column,
                format_path((*path, key)),
                f"key '{key}' appears twice in this mapping (first at line {first_line})",
            )
        )

    def _key(self, key_node: yaml.Node) -> str:
        key = key_of(self.constructor, key_node)
        if key is None:
            line, column = _mark(key_node)
            self.errors.append(
                LocatedError(
                    self.source.file, line, column, "(yaml)", "a key must be a plain value"
                )
            )
            return f"<key at line {line}>"
        return key


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
_FAST_LOADER: type[yaml.SafeLoader] = FastSafeLoader


def read_yaml_file(path: PathLike, file: str) -> YamlSource:
    """Read and parse a YAML file as UTF-8; an unreadable or undecodable file is a located error.

    YAML files are UTF-8 (a leading byte order mark is dropped); the error names the line and
    column of the first byte that is not.
    """
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        if path.is_dir():
            reason = "is a folder, not a YAML file"
        elif path.is_symlink() and not path.exists():
            reason = f"is a broken symbolic link (to {os.readlink(path)})"
        raise LoadError([LocatedError(file, 1, 1, "(file)", reason)]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        offset = error.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        before = data[:offset]
        line = before.count(b"\n") + 1
        column = offset - (before.rfind(b"\n") + 1) + 1
        raise LoadError(
            [
                LocatedError(
                    file,
                    line,
                    column,
                    "(file)",
                    f"byte 0x{data[offset]:02x} is not UTF-8; save the file as UTF-8",
                )
            ]
        ) from None
    return parse_yaml(text, file)


def parse_yaml(text: str, file: str) -> YamlSource:
    """Parse one YAML document, keeping marks; a syntax error becomes a `LoadError`."""
    try:
        try:
            return _parse(text, file, _FAST_LOADER)
        except yaml.MarkedYAMLError as error:
            if "maximum nesting depth" in str(error.problem):
                raise RecursionError from None  # LibYAML's own limit, far beyond ours
            # The pure-Python parser words errors as `_syntax_error` expects; LibYAML does not.
            return _parse(text, file, yaml.SafeLoader)
    except RecursionError:
        # PyYAML composes nested collections recursively; find the culprit without recursion.
        line, column = _first_too_deep(text)
        raise LoadError(
            [LocatedError(file, line, column, "(yaml)", f"nesting deeper than {MAX_DEPTH} levels")]
        ) from None
    except yaml.reader.ReaderError as error:
        line, column = _line_column(text, error.position)
        raise LoadError(
            [
                LocatedError(
                    file,
                    line,
                    column,
                    "(yaml)",
                    f"character {_shown_character(error.character)} is not allowed in YAML",
                )
            ]
        ) from None


def _shown_character(character: int | str) -> str:
    code = character if isinstance(character, int) else ord(character)
    return f"U+{code:04X}"


def _line_column(text: str, position: int) -> Mark:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def _first_too_deep(text: str) -> Mark:
    """Where nesting first exceeds MAX_DEPTH, found from the event stream (no recursion).

    LibYAML's scanner refuses deep flow nesting (`[[[...`) before its events get that deep;
    the pure-Python parser, slower, then finds the place.
    """
    for loader in (_FAST_LOADER, yaml.SafeLoader):
        depth = 0
        try:
            for event in yaml.parse(text, Loader=loader):
                if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                    depth += 1
                    if depth > MAX_DEPTH:
                        return _at(event.start_mark)
                elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                    depth -= 1
        except yaml.YAMLError:
            continue
    return (1, 1)


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
        # An alias is written `*name`: a text without `*` has none.
        walker = _Walker(source, loader, aliases="*" in text)
        source.data = walker.walk(node, ())
        source.with_variables = walker.with_variables
        source.value_marks = NodeMarks(node, loader, keys=False)
        source.key_marks = NodeMarks(node, loader, keys=True)
        source.quoted = QuotedScalars(source.value_marks)
    except yaml.MarkedYAMLError as error:
        if loader_class is not yaml.SafeLoader:
            raise
        (line, column), problem = _syntax_error(error)
        raise LoadError([LocatedError(file, line, column, "(yaml)", problem)]) from None
    finally:
        # The marks read the nodes, and keys' constructor, after parsing: `dispose` only
        # drops the parser's state, not the nodes.
        loader.dispose()
    if walker.errors:
        raise LoadError(walker.errors)
    return source
