"""Keeping secret stack config secret once it is substituted into resource inputs.

`${vars.X}` is replaced in the YAML before validation, so a secret variable reaches the
components as plain text and Pulumi would store it in clear in the state. The program collects
the plain values of the secret config keys, and every resource input made from the YAML
(the pipeline's and clusters' arguments, the metadata file) that contains one of them is
wrapped in `pulumi.Output.secret`.

Pulumi marks a whole config key secret when any value inside it is (`pulumi config set --secret
--path vars.token ...` makes `lakehouse:vars` secret), and the engine does not say which values
were encrypted. The stack file does (`token: {secure: ...}`): a variable written in clear there
is no secret. Without the file, every value of a secret key counts as secret: an input holding
any of them is concealed. That errs on the side of hiding too much, never too little.

Two nets. The first is the fields: the loader records every field that received a secret
variable (`loader.variables.substitute`), and an input holding such a field's whole value is
concealed, however short the secret (`retries-${vars.retries}` with a secret `7` gives
`retries-7`, which hides the 7 among other text). The second is the secret values themselves,
found as substrings of text, or as numbers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pulumi

from ..loader.errors import LoadError

T = TypeVar("T")

REDACTED = "[secret]"
"""What a secret configuration value reads as in the deployed metadata file."""


@dataclass(frozen=True)
class SecretValues:
    """Plain-text values that must never reach the state or the outputs in clear."""

    values: frozenset[str] = frozenset()
    numbers: frozenset[int | float] = frozenset()
    """Secret numbers: an input holding one of them (as a number) is concealed too. Compared
    as numbers, not as substrings: a secret `1` would otherwise conceal every text with a 1."""

    @classmethod
    def of(cls, config_values: Iterable[Any]) -> SecretValues:
        """Every non-empty string and every number inside the given config values; mapping keys
        are names, not values, and stay out."""
        found: set[str] = set()
        numbers: set[int | float] = set()
        for value in config_values:
            found.update(text for text in _strings(value) if text)
            numbers.update(_numbers(value))
        # A number's digits, when it is long enough not to match by chance, count as text too
        # (an integer secret interpolated into a string).
        found.update(str(number) for number in numbers if len(str(number)) >= 4)
        return cls(frozenset(found), frozenset(numbers))

    @classmethod
    def of_fields(cls, field_values: Iterable[Any]) -> SecretValues:
        """The whole values of fields that received a secret: each string as one text to look
        for (whatever its length, for it is the field's whole value, not a fragment), each
        number as a number."""
        found: set[str] = set()
        numbers: set[int | float] = set()
        for value in field_values:
            found.update(text for text in _strings(value) if text)
            numbers.update(_numbers(value))
        return cls(frozenset(found), frozenset(numbers))

    def merged(self, other: SecretValues) -> SecretValues:
        """The secrets of both."""
        return SecretValues(self.values | other.values, self.numbers | other.numbers)

    def found_in(self, value: Any) -> bool:
        """True if a secret appears in `value`: in any of its strings, numbers, or in bytes."""
        if not self.values and not self.numbers:
            return False
        if isinstance(value, bytes):
            return any(
                secret.encode() in value or _json_escaped(secret).encode() in value
                for secret in self.values
            ) or (bool(self.numbers) and any(n in self.numbers for n in _json_numbers(value)))
        if any(number in self.numbers for number in _numbers(value)):
            return True
        return any(secret in text for text in _strings(value, keys=True) for secret in self.values)

    def redact_configuration(self, metadata: bytes) -> bytes:
        """The metadata file with every `configuration` value holding a secret as `[secret]`.

        The file is readable by every principal of the pipeline. Notebooks read the configuration
        from the pipeline's own settings (`spark.conf`), never from this file, so its values are
        not needed there; the rest of the model is, and stays (concealed in Pulumi's state).
        """
        if not self.values and not self.numbers:
            return metadata
        try:
            document = json.loads(metadata)
        except ValueError:
            return metadata
        configuration = document.get("configuration") if isinstance(document, dict) else None
        if not isinstance(configuration, dict):
            return metadata
        hidden = {key for key, value in configuration.items() if self.found_in(value)}
        if not hidden:
            return metadata
        document["configuration"] = {
            key: REDACTED if key in hidden else value for key, value in configuration.items()
        }
        return json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n"

    def redact_text(self, text: str) -> str:
        """`text` (a log line, an error message) with every secret text replaced by `[secret]`.

        Longest first, so that a secret holding another is replaced whole. Numbers are not
        looked for in text: digits match by chance.
        """
        for secret in sorted(self.values, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def redact_errors(self, error: LoadError) -> LoadError:
        """The same located errors, their messages and fields without a secret in clear."""
        return LoadError(
            [
                dataclasses.replace(
                    located,
                    field=self.redact_text(located.field),
                    message=self.redact_text(located.message),
                )
                for located in error.errors
            ]
        )

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


def _numbers(value: Any) -> Iterator[int | float]:
    """Every number inside `value` (booleans are not numbers here)."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _numbers(item)
    elif hasattr(value, "__dict__") and not isinstance(value, (type, str, bytes)):
        yield from _numbers(list(vars(value).values()))


def _json_numbers(data: bytes) -> Iterator[int | float]:
    """The numbers of a JSON document (the metadata file); none if `data` is not JSON."""
    try:
        document = json.loads(data)
    except ValueError:
        return iter(())
    return _numbers(document)


ENV_VARIABLE = re.compile(r"\$\{\s*env\.([A-Za-z_][A-Za-z0-9_.-]*)\s*\}")


def env_secret_values(project_dir: Path, environ: Mapping[str, str] | None = None) -> SecretValues:
    """The values `${env.NAME}` takes in the definitions of `project_dir/stacks/`.

    The environment is where CI hands a deploy its credentials, and nothing says which of its
    variables are secret: every value read from it is treated as one, as every string of a
    secret config key is (hiding too much, never too little). For a value that must not even
    reach the pipeline's settings, `${secret.SCOPE/KEY}` leaves it in a Databricks secret scope.
    """
    env = os.environ if environ is None else environ
    names: set[str] = set()
    for path in sorted((project_dir / "stacks").glob("*/*.y*ml")):
        try:
            names.update(ENV_VARIABLE.findall(path.read_bytes().decode("utf-8", "replace")))
        except OSError:
            continue  # the loader reports unreadable files
    return SecretValues.of(env[name] for name in sorted(names) if env.get(name))


def _json_escaped(text: str) -> str:
    """How `text` appears inside a JSON string, as in the metadata file."""
    return json.dumps(text)[1:-1]
