"""`${vars.NAME}` from the stack's config and `${env.NAME}` from the environment.

`${secret.SCOPE/KEY}` becomes Databricks' `{{secrets/SCOPE/KEY}}`, in the pipeline's configuration
and clusters' Spark conf and environment only, where Databricks resolves it at run time: the
secret's value then never passes through this program, the plan or the metadata file.

`${var.NAME}` is read as `${vars.NAME}`: Laktory writes its variables that way, so files written
for Laktory keep working. A value that is only a variable keeps the variable's type (a number
stays one) unless the YAML quotes it; a variable inside text becomes text. Only variables that
are plain text, numbers or booleans can go inside text: a null, a mapping or a list there is an
error, and so is a variable whose value holds another variable (values are not expanded twice,
so `${vars.a}` holding `${vars.a}` would otherwise end up as literal text).

A `secure:` value of `Pulumi.<stack>.yaml` read from the file (not decrypted by the Pulumi
engine) is unknown here; commands that only show it (validate, graph, preview) read it as
`[secret]`, never the ciphertext's text, and a command that needs its value (a local run, within
`needing_secret_values`) fails at the line that uses it, rather than run on the text `[secret]`.

`${conf.KEY}` reads a key of the pipeline's `configuration` at run time: it becomes Spark SQL's
own `${KEY}`, which Spark substitutes from the session's configuration when it parses an
expression (a filter, a SQL expression or query, an expectation, a join condition), on
Databricks as locally (Spark's parser substitutes `${KEY}` from the session's conf while
`spark.sql.variable.substitute` is true, its default; Databricks: a pipeline's configuration is
"referenced in SQL with ${key} syntax or in Python with spark.conf.get", "Use parameters with
pipelines", https://learn.microsoft.com/azure/databricks/ldp/parameters; the local run's test
reads a secret through a filter). It is how a table's code uses a secret: the configuration holds the
secret (`${env.X}`, a secret variable, or `${secret.SCOPE/KEY}`, resolved by Databricks), and
no file written from the definitions holds its value. A secret substituted into a table
directly would be written in clear in the pipeline's metadata file, readable by every
principal of the workspace folder: it is refused at its line.

`substitute` returns the paths of the values that received a secret: a secret variable (one
the stack file encrypts), any `${env.NAME}`, or an undecrypted `secure:` value. The deploy
conceals every resource input holding such a value whole (`deploy.secrets`), whatever the
secret's length or type: a secret `7` inside `retries-7` cannot be found by looking for `7`.
"""

from __future__ import annotations

import contextvars
import difflib
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..models.base import format_path
from ..models.stream_sources import takes_secret_reference
from .errors import LoadError, LocatedError
from .yaml_source import Path, YamlSource

SCOPES = {"vars": "vars", "var": "vars", "env": "env"}
"""Scopes a variable may name, and the scope each one reads (`var` is Laktory's spelling)."""

NAME = re.compile(r"\s*([A-Za-z_]+)\.([A-Za-z_][A-Za-z0-9_.-]*)\s*")

SECRET_PLACEHOLDER = "[secret]"
"""What an undecrypted `secure:` config value reads as."""

SECRET_REFERENCE = re.compile(r"\s*secret\.([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)\s*")
"""`${secret.SCOPE/KEY}`: a key of a Databricks secret scope, read by Databricks at run time."""

CONF_SCOPE = "conf"
"""`${conf.KEY}`: a key of the pipeline's configuration, read by Spark at run time."""

CONFIGURATION_FIELD = "configuration"

SECRET_FREE_ROOTS = ("tables",)
"""Top-level fields no secret may reach in clear: a pipeline's tables are written to its
metadata file as they are."""

_needing_values: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "laktory_needing_secret_values", default=False
)

SECRET_FIELDS = ("configuration", "spark_conf", "spark_env_vars")
"""Mappings whose values Databricks resolves `{{secrets/scope/key}}` in: the pipeline's
configuration and a cluster's Spark conf and environment ("Use a secret in a Spark configuration
property or environment variable", https://docs.databricks.com/security/secrets/secrets-spark-conf-env-var.html)."""


def secret_reference(scope: str, key: str) -> str:
    """How Databricks spells a reference to a secret in Spark conf and environment values."""
    return "{{secrets/" + scope + "/" + key + "}}"


class _Problem(Exception):
    """One variable that cannot be substituted, with the reason."""


@contextmanager
def needing_secret_values() -> Iterator[None]:
    """Within this block, a `secure:` value the Pulumi engine did not decrypt is an error where
    a variable uses it (a local run would otherwise run on the text `[secret]`)."""
    token = _needing_values.set(True)
    try:
        yield
    finally:
        _needing_values.reset(token)


def spark_conf_reference(key: str) -> str:
    """How Spark SQL spells a reference to a configuration key it substitutes at parse time."""
    return "${" + key + "}"


def is_undecrypted_secret(value: Any) -> bool:
    """True for `{secure: v1:...}`, a secret of the stack file the Pulumi engine did not decrypt."""
    return isinstance(value, dict) and set(value) == {"secure"}


def substitute(
    source: YamlSource,
    variables: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    secret_variables: Collection[str] = (),
) -> set[Path]:
    """Replace every variable in the parsed data, in place; every problem is a located error.

    Returns the paths of the values that received a secret: a variable named in
    `secret_variables`, any `${env.NAME}` (nothing says which of the environment's values are
    secret, see `deploy.secrets.env_secret_values`), or an undecrypted `secure:` value.
    """
    env = os.environ if environ is None else environ
    scopes: dict[str, Mapping[str, Any]] = {"vars": variables, "env": env}
    data = source.data if isinstance(source.data, dict) else {}
    configuration = data.get(CONFIGURATION_FIELD)
    configuration_keys = set(configuration) if isinstance(configuration, dict) else set()
    needing_values = _needing_values.get()
    errors: list[LocatedError] = []
    secret_paths: set[Path] = set()
    received_secret = False  # whether the value being replaced has received a secret so far

    def resolve(expression: str) -> Any:
        nonlocal received_secret
        match = NAME.fullmatch(expression)
        if match is None:
            raise _Problem(
                f"'${{{expression}}}' is not a variable; write ${{vars.NAME}} or ${{env.NAME}}"
            )
        kind, name = match.groups()
        if kind == CONF_SCOPE:
            if name not in configuration_keys:
                close = difflib.get_close_matches(name, sorted(map(str, configuration_keys)), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise _Problem(
                    f"${{conf.{name}}} reads the pipeline's configuration at run time, and "
                    f"'{name}' is not one of its keys{hint}"
                )
            return spark_conf_reference(name)
        if kind not in SCOPES:
            raise _Problem(
                f"unknown variable scope '{kind}' (use ${{vars.NAME}} or ${{env.NAME}}), or "
                "${conf.KEY} for a key of the pipeline's configuration read at run time"
            )
        scope = scopes[SCOPES[kind]]
        if name not in scope:
            close = difflib.get_close_matches(name, list(scope), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            where = "the stack's config (vars)" if SCOPES[kind] == "vars" else "the environment"
            raise _Problem(f"variable ${{{kind}.{name}}} is not defined in {where}{hint}")
        value = scope[name]
        if SCOPES[kind] == "env" or name in secret_variables or is_undecrypted_secret(value):
            received_secret = True
        if is_undecrypted_secret(value):
            if needing_values:
                raise _Problem(
                    f"variable ${{{kind}.{name}}} is encrypted in the stack file (secure:) and "
                    "only the Pulumi engine decrypts it; this command needs its value: give "
                    "it another way (e.g. ${env.NAME}) for this run"
                )
            return SECRET_PLACEHOLDER
        if isinstance(value, str) and "${" in value:
            itself = SCOPES[kind] == "vars" and any(
                isinstance(piece, _Variable)
                and (match := NAME.fullmatch(piece.expression)) is not None
                and SCOPES.get(match.group(1)) == "vars"
                and match.group(2) == name
                for piece in _pieces_or_none(value)
            )
            what = "refers to itself" if itself else "holds another variable"
            raise _Problem(
                f"variable ${{{kind}.{name}}} {what} ({value!r}); variables are not expanded "
                "twice, give it a plain value"
            )
        return value

    def in_text(expression: str) -> str:
        value = resolve(expression)
        if value is None or isinstance(value, (dict, list)):
            found = "nothing (null)" if value is None else _kind(value)
            raise _Problem(
                f"variable ${{{expression.strip()}}} is {found}; only text, numbers and "
                "booleans can go inside text"
            )
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def replace(text: str, path: Path, quoted: bool) -> Any:
        pieces = split(text)
        if any(
            isinstance(piece, _Variable) and piece.expression.strip().startswith("secret.")
            for piece in pieces
        ):
            return secret(pieces, path)
        if len(pieces) == 1 and isinstance(pieces[0], _Variable) and not quoted:
            return resolve(pieces[0].expression)
        return "".join(
            in_text(piece.expression) if isinstance(piece, _Variable) else piece for piece in pieces
        )

    def secret(pieces: list[str | _Variable], path: Path) -> str:
        """A `${secret.SCOPE/KEY}` value: Databricks' reference, where Databricks resolves it."""
        if _is_sink_option(path):
            return "".join(
                piece
                if isinstance(piece, str)
                else sink_secret(piece)
                if piece.expression.strip().startswith("secret.")
                else in_text(piece.expression)
                for piece in pieces
            )
        piece = pieces[0] if len(pieces) == 1 else None
        if not isinstance(piece, _Variable):
            raise _Problem(
                "a secret is a whole value, ${secret.SCOPE/KEY}; Databricks reads it at run time "
                "and it cannot be part of a text"
            )
        match = SECRET_REFERENCE.fullmatch(piece.expression)
        if match is None:
            raise _Problem(
                f"'${{{piece.expression.strip()}}}' is not a secret reference; write "
                "${secret.SCOPE/KEY}"
            )
        if takes_secret_reference(path):
            # A stream's password or connection string: the reference stays one in the
            # metadata, and the runtime reads the secret on the cluster (`models.stream_sources`).
            return secret_reference(*match.groups())
        if len(path) < 2 or path[-2] not in SECRET_FIELDS:
            raise _Problem(
                "${secret.SCOPE/KEY} goes only in configuration, spark_conf or spark_env_vars "
                "values, where Databricks resolves secrets at run time (or in a stream source's "
                "password, connection string, AWS keys and options)"
            )
        return secret_reference(*match.groups())

    def sink_secret(piece: _Variable) -> str:
        """A secret inside a sink's option (a Kafka JAAS config holds it among other text):
        the notebook reads each reference from the scope at run time (`runtime.sinks`)."""
        match = SECRET_REFERENCE.fullmatch(piece.expression)
        if match is None:
            raise _Problem(
                f"'${{{piece.expression.strip()}}}' is not a secret reference; write "
                "${secret.SCOPE/KEY}"
            )
        return secret_reference(*match.groups())

    def named_by_variable(path: Path) -> None:
        errors.append(
            source.error(
                path,
                format_path(path),
                "a variable cannot name a key; keys are written as they are",
                key=True,
            )
        )

    def substituted(value: str, path: Path) -> Any:
        source.variables[path] = value
        nonlocal received_secret
        received_secret = False
        try:
            replaced = replace(value, path, path in source.quoted)
        except _Problem as problem:
            errors.append(source.error(path, format_path(path), str(problem)))
            return None
        finally:
            if received_secret:
                secret_paths.add(path)
        if received_secret and path[0] in SECRET_FREE_ROOTS:
            errors.append(source.error(path, format_path(path), _IN_CLEAR))
        return replaced

    if source.with_variables is None:
        source.data = _visit(source.data, (), named_by_variable, substituted)
    else:
        _replace_at(source.data, source.with_variables, named_by_variable, substituted)
    if errors:
        raise LoadError(errors)
    return secret_paths


_IN_CLEAR = (
    "a secret cannot go into a table's definition: the pipeline's metadata file holds it as "
    "written, in clear; put it in the pipeline's configuration (e.g. `configuration: {KEY: "
    "${env.NAME}}` or ${secret.SCOPE/KEY}) and write ${conf.KEY} here, which Spark reads at "
    "run time"
)


def _visit(
    value: Any,
    path: Path,
    named_by_variable: Callable[[Path], None],
    substituted: Callable[[str, Path], Any],
) -> Any:
    """`value` with each text holding `${` replaced by `substituted`, depth first.

    A function of the module, not a closure of `substitute`: a closure calling itself holds
    itself, a cycle through the source and every YAML node of the file, which only the
    collector would free (after a pass over everything loaded since).
    """
    if isinstance(value, dict):
        result: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and "${" in key:
                named_by_variable((*path, key))
            result[key] = _visit(item, (*path, key), named_by_variable, substituted)
        return result
    if isinstance(value, list):
        return [
            _visit(item, (*path, index), named_by_variable, substituted)
            for index, item in enumerate(value)
        ]
    if not isinstance(value, str) or "${" not in value:
        return value
    return substituted(value, path)


def _replace_at(
    data: Any,
    places: list[tuple[Path, bool]],
    named_by_variable: Callable[[Path], None],
    substituted: Callable[[str, Path], Any],
) -> None:
    """What `_visit` does, in place, at the `places` the parser noted (`YamlSource.with_variables`,
    in the data's order, so the errors come in the same order): the rest of the data holds no
    `${`, and a large file's values are not visited one by one."""
    for path, is_key in places:
        if is_key:
            named_by_variable(path)
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        value = parent[path[-1]]
        if isinstance(value, str) and "${" in value:
            parent[path[-1]] = substituted(value, path)


def _is_sink_option(path: Path) -> bool:
    """Whether `path` is a value of a sink's `options` (`sinks[i].options.KEY`)."""
    return len(path) == 4 and path[0] == "sinks" and path[2] == "options"


class _Variable:
    """A `${...}` of a text, by its expression between the braces."""

    __slots__ = ("expression",)

    def __init__(self, expression: str) -> None:
        self.expression = expression


def split(text: str) -> list[str | _Variable]:
    """The text as plain pieces and variables; an unclosed or nested `${` is a `_Problem`."""
    pieces: list[str | _Variable] = []
    position = 0
    while True:
        start = text.find("${", position)
        if start < 0:
            if position < len(text):
                pieces.append(text[position:])
            return pieces
        if start > position:
            pieces.append(text[position:start])
        end = text.find("}", start)
        nested = text.find("${", start + 2)
        if end < 0:
            raise _Problem(f"'{text[start:]}' is never closed: a variable ends with '}}'")
        if 0 <= nested < end:
            raise _Problem(
                f"'{text[start : end + 1]}...' nests a variable in a variable, which is not "
                "supported; a variable's name is written as it is"
            )
        pieces.append(_Variable(text[start + 2 : end]))
        position = end + 1


def _pieces_or_none(text: str) -> list[str | _Variable]:
    try:
        return split(text)
    except _Problem:
        return []


def _kind(value: Any) -> str:
    return "a mapping" if isinstance(value, dict) else "a list"
