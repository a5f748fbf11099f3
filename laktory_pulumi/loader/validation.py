"""Pydantic validation errors turned into located, readable ones."""

from __future__ import annotations

import difflib
import re
import types
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, ValidationError

from ..models.base import FieldError, RuleViolation, format_path
from .errors import LoadError, LocatedError
from .libraries import empty_libraries
from .positions import stamp_definitions
from .yaml_source import Path, YamlSource

M = TypeVar("M", bound=BaseModel)


def validate(source: YamlSource, model: type[M]) -> M:
    """Validate the parsed data against `model`; every problem becomes a located error."""
    if not isinstance(source.data, dict):
        found = "a list" if isinstance(source.data, list) else f"'{source.data}'"
        raise LoadError(
            [source.error((), "(root)", f"expected a mapping of fields, found {found}")]
        )
    before = [*stamp_definitions(source), *empty_libraries(source)]
    if before:
        raise LoadError(before)
    try:
        return model.model_validate(source.data)
    except ValidationError as error:
        raise LoadError(_located(source, model, error)) from None
    except RuleViolation as violation:
        # A rule blaming a whole list or mapping points at its key, as for a FieldError.
        raise LoadError(
            [
                source.error(
                    path,
                    format_path(path),
                    _without_variable_value(source, path, message),
                    key=path in source.key_marks
                    and isinstance(_value_at(source.data, path), (dict, list)),
                )
                for path, message in violation.problems
            ]
        ) from None


def _without_variable_value(source: YamlSource, path: Path, message: str) -> str:
    """A rule's message, the value at `path` named by its variable when it came from one.

    Rules quote the values they blame; a value substituted from a variable may be a secret.
    """
    if path not in source.variables:
        return message
    value = _value_at(source.data, path)
    if isinstance(value, str) and value:
        message = message.replace(f"'{value}'", source.variables[path])
    return message + f" (from {source.variables[path]})"


def _data_path(data: Any, loc: tuple[str | int, ...]) -> tuple[Path, list[str | int]]:
    """Follow pydantic's loc through the data; returns the path found and the parts left over.

    Union branches add tags to the loc (`lit-arg`, `list[str]`) that are not in the
    data; those are skipped.
    """
    path: list[str | int] = []
    current = data
    rest: list[str | int] = []
    for part in loc:
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        ):
            path.append(part)
            current = current[part]
        else:
            rest.append(part)
    return tuple(path), rest


def _unwrap(annotation: Any) -> list[Any]:
    """The candidate types of an annotation, Optional, lists, dicts and Annotated removed."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _unwrap(arg)]
    if origin in (list, dict):
        return _unwrap(get_args(annotation)[-1])
    if origin is not None and getattr(annotation, "__metadata__", None) is not None:
        return _unwrap(get_args(annotation)[0])
    if hasattr(annotation, "__metadata__"):
        return _unwrap(annotation.__origin__)
    return [annotation]


def _is_mapping(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is dict:
        return True
    if origin in (Union, types.UnionType):
        return any(_is_mapping(arg) for arg in get_args(annotation))
    return False


def _model_at(model: type[BaseModel], path: Path) -> type[BaseModel] | None:
    """The model class describing the mapping at `path`, when it is unambiguous."""
    current: type[BaseModel] | None = model
    free_key = False
    for part in path:
        if isinstance(part, int):
            continue
        if free_key:
            free_key = False
            continue
        field = _field_named(current, part) if current is not None else None
        if field is None:
            return None
        free_key = _is_mapping(field.annotation)
        candidates = [
            t for t in _unwrap(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        current = candidates[0] if len(candidates) == 1 else None
    return current


def _field_named(model: type[BaseModel], key: str) -> Any:
    """The field a YAML key names: by its name, or by one of its aliases (`groupby_window`)."""
    if key in model.model_fields:
        return model.model_fields[key]
    for field in model.model_fields.values():
        if (
            isinstance(field.validation_alias, AliasChoices)
            and key in field.validation_alias.choices
        ):
            return field
    return None


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == str(word).lower()]
    return f" (did you mean '{close[0]}'?)" if close else ""


def _kind_of(value: Any) -> str:
    """How a YAML value reads to its author: a mapping, a list, or the value itself."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return _shown(value)


def _shown(value: Any) -> str:
    return "nothing (the value is empty)" if value is None else repr(value)


def _blamed_field(err: Any) -> str | None:
    """The field a model validator blamed with a `FieldError`, if it did."""
    cause = err.get("ctx", {}).get("error")
    return cause.field if isinstance(cause, FieldError) else None


def _value_at(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


def _message(source: YamlSource, model: type[BaseModel], path: Path, rest: list, err: dict) -> str:
    """The message of one pydantic error; a value that came from a variable is never shown
    (it may be a secret), the variable is named instead."""
    kind = err["type"]
    hidden = path in source.variables
    if kind == "extra_forbidden":
        key = str(path[-1])
        owner = _model_at(model, path[:-1])
        allowed = sorted(owner.model_fields) if owner else []
        return f"unknown key '{key}'{_suggest(key, allowed)}" + (
            f"; allowed keys: {', '.join(allowed)}"
            if allowed and not _suggest(key, allowed)
            else ""
        )
    if kind == "missing":
        return f"'{rest[-1]}' is required" if rest else "a value is required"
    if kind in ("literal_error", "enum"):
        # pydantic's `expected` reads "'A', 'B' or 'C'" (strings) or "1 or 2" (numbers).
        expected = err.get("ctx", {}).get("expected", "")
        allowed = [choice.strip("'") for choice in re.split(r", | or ", expected) if choice]
        value = err.get("input")
        shown = f"'{value}'" if isinstance(value, str) else str(value)
        shown = "the value" if hidden else shown
        hint = "" if hidden else _suggest(str(value), allowed)
        return f"{shown} is not one of {', '.join(allowed)}{hint}"
    found = "the variable's value" if hidden else _kind_of(err.get("input"))
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping of fields, found {found}"
    if kind == "list_type":
        return f"expected a list, found {found}"
    message = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind.endswith(("_type", "_parsing")) or kind in ("string_pattern_mismatch", "func_arg"):
        got = "" if hidden else f", got {_shown(err.get('input'))}"
        message = f"{message[0].lower()}{message[1:]}{got}"
        if hidden and kind == "string_type":
            message += "; quote the variable to make it text"
    return message


def _located(
    source: YamlSource, model: type[BaseModel], error: ValidationError
) -> list[LocatedError]:
    by_path: dict[tuple[Path, bool], list[str]] = {}
    for err in error.errors():
        blamed = _blamed_field(err)
        path, rest = _data_path(source.data, (*err["loc"], blamed) if blamed else err["loc"])
        absent = rest[-1] if rest and (err["type"] == "missing" or rest[-1] == blamed) else None
        if absent is not None:
            # A field absent from the file: point at the mapping, name the field in the path.
            shown = (*path, absent)
            by_path.setdefault((shown, False), []).append(_message(source, model, path, rest, err))
            continue
        message = _message(source, model, path, rest, err)
        if path in source.variables and err["type"] not in ("extra_forbidden", "missing"):
            message += f" (from {source.variables[path]})"
        # An unknown key, or a blamed field holding a mapping or a list, is pointed at by its key.
        on_key = err["type"] == "extra_forbidden" or (
            blamed is not None and isinstance(_value_at(source.data, path), (dict, list))
        )
        by_path.setdefault((path, on_key), []).append(message)
    located: list[LocatedError] = []
    for (path, on_key), messages in by_path.items():
        unique = list(dict.fromkeys(messages))
        message = unique[0] if len(unique) == 1 else "not valid: " + " | ".join(unique)
        mark_path = path if on_key or path in source.value_marks else path[:-1]
        located.append(source.error(mark_path, format_path(path) or "(root)", message, key=on_key))
    return located
