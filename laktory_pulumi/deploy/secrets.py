"""Keeping secret stack config secret once it is substituted into resource inputs.

`${vars.X}` is replaced in the YAML before validation, so a secret variable reaches the
components as plain text and Pulumi would store it in clear in the state. The program collects
the plain values of the secret config keys, and every resource input made from the YAML
(the pipeline's and clusters' arguments, the metadata file) that contains one of them is
wrapped in `pulumi.Output.secret`.

Pulumi marks a whole config key secret when any value inside it is (`pulumi config set --secret
--path vars.token ...` makes `lakehouse:vars` secret), and the engine does not say which values
were encrypted. So every string of a secret key counts as secret: an input holding any of them
is concealed. That errs on the side of hiding too much, never too little.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi

T = TypeVar("T")


@dataclass(frozen=True)
class SecretValues:
    """Plain-text values that must never reach the state or the outputs in clear."""

    values: frozenset[str] = frozenset()

    @classmethod
    def of(cls, config_values: Iterable[Any]) -> SecretValues:
        """Every non-empty string inside the given config values; mapping keys are names, not
        values, and stay out."""
        found: set[str] = set()
        for value in config_values:
            found.update(text for text in _strings(value) if text)
        return cls(frozenset(found))

    def found_in(self, value: Any) -> bool:
        """True if a secret appears in `value`: in any of its strings, or in bytes."""
        if not self.values:
            return False
        if isinstance(value, bytes):
            return any(
                secret.encode() in value or _json_escaped(secret).encode() in value
                for secret in self.values
            )
        return any(secret in text for text in _strings(value, keys=True) for secret in self.values)

    def conceal(self, value: T) -> T | pulumi.Output[T]:
        """`value` itself, or as a secret output when it holds a secret."""
        return pulumi.Output.secret(value) if self.found_in(value) else value


def _strings(value: Any, *, keys: bool = False) -> Iterator[str]:
    """Every string inside `value`; with `keys`, the keys of its mappings too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if keys:
                yield from _strings(key)
            yield from _strings(item, keys=keys)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item, keys=keys)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        # pulumi input types (`PipelineClusterArgs`, ...) keep their values in attributes,
        # whose names are never secret.
        yield from _strings(list(vars(value).values()), keys=keys)


def _json_escaped(text: str) -> str:
    """How `text` appears inside a JSON string, as in the metadata file."""
    return json.dumps(text)[1:-1]
