"""`${vars.NAME}` from the stack's config and `${env.NAME}` from the environment."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from typing import Any

from ..models.base import format_path
from .errors import LoadError, LocatedError
from .yaml_source import Path, YamlSource

VARIABLE = re.compile(r"\$\{\s*([A-Za-z_]+)\.([A-Za-z_][A-Za-z0-9_.-]*)\s*\}")


def substitute(
    source: YamlSource, variables: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> None:
    """Replace every variable in the parsed data, in place; undefined ones are located errors."""
    env = os.environ if environ is None else environ
    errors: list[LocatedError] = []

    def resolve(kind: str, name: str, path: Path) -> Any:
        scope: Mapping[str, Any]
        if kind == "vars":
            scope = variables
        elif kind == "env":
            scope = env
        else:
            errors.append(
                source.error(
                    path,
                    format_path(path),
                    f"unknown variable scope '{kind}' (use ${{vars.NAME}} or ${{env.NAME}})",
                )
            )
            return None
        if name not in scope:
            close = difflib.get_close_matches(name, list(scope), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            where = "the stack's config (vars)" if kind == "vars" else "the environment"
            errors.append(
                source.error(
                    path,
                    format_path(path),
                    f"variable ${{{kind}.{name}}} is not defined in {where}{hint}",
                )
            )
            return None
        return scope[name]

    def visit(value: Any, path: Path) -> Any:
        if isinstance(value, dict):
            return {key: visit(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [visit(item, (*path, index)) for index, item in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        source.variables[path] = value
        whole = VARIABLE.fullmatch(value.strip())
        if whole:
            # A value that is only a variable keeps the variable's own type (a number stays one).
            return resolve(whole.group(1), whole.group(2), path)
        return VARIABLE.sub(lambda m: str(resolve(m.group(1), m.group(2), path)), value)

    source.data = visit(source.data, ())
    if errors:
        raise LoadError(errors)
