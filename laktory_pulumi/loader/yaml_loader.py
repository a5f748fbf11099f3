"""PyYAML's safe loader, with its tag resolver answering repeated plain scalars from memory.

LibYAML composes the nodes, but calls back into Python for every node: `resolve` for its tag,
`descend_resolver` and `ascend_resolver` around it. `resolve` tries each implicit resolver's
regular expression for the scalar's first character in turn; a stack of 200 pipeline files has
about 600,000 nodes, and parsing spent a fifth of its time there.

What `resolve` returns for a plain scalar depends on its text alone (the class's implicit
resolvers, fixed at import), unless path resolvers are registered (`add_path_resolver`, which
neither PyYAML nor we use). So the tag of each short plain scalar is remembered the first time
it is resolved, process-wide: the same `name`, `type`, `string`, `true` recur thousands of
times. The tags, and so YAML 1.1's booleans (`yes`, `on`), numbers and dates, are exactly the
safe loader's (tests/test_yaml_scalars.py pins them).
"""

from __future__ import annotations

from typing import Any

import yaml

_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""LibYAML's parser when PyYAML was built with it (about ten times faster), else PyYAML's."""

MAX_REMEMBERED = 50_000
"""Most plain scalars whose tag is kept; beyond, they are resolved each time."""
MAX_REMEMBERED_LENGTH = 64
"""Longest plain scalar whose tag is kept: names and types, not SQL text."""

_plain_tags: dict[str, str] = {}


class FastSafeLoader(_BASE):  # type: ignore[misc, valid-type]
    """The safe loader, resolving each short plain scalar's tag once per process."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0] and not self.yaml_path_resolvers:
            tag = _plain_tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= MAX_REMEMBERED_LENGTH and len(_plain_tags) < MAX_REMEMBERED:
                    _plain_tags[value] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        if self.yaml_path_resolvers:  # none unless registered: then PyYAML's bookkeeping
            super().descend_resolver(current_node, current_index)

    def ascend_resolver(self) -> None:
        if self.yaml_path_resolvers:
            super().ascend_resolver()
