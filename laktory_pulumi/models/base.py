"""The base every laktory-pulumi model shares."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class Model(BaseModel):
    """A strict model: unknown keys are errors, so a misspelt key never goes unnoticed."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False, populate_by_name=True)


class RuleViolation(Exception):
    """Rules across fields that failed, each with the path of the field to blame.

    Deliberately not a ValueError: pydantic would fold it into one error at the
    model's own location, and the loader needs each rule's precise path to point
    at the right line of the YAML file.
    """

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{format_path(path)}: {message}" for path, message in problems))


class FieldError(ValueError):
    """A model validator's error that blames one field of the model, not the whole mapping.

    Pydantic locates a model validator's ValueError at the model; the loader reads
    `field` to point at that field's line instead. Outside the loader it is a plain
    ValueError with the same message.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def format_path(path: tuple[str | int, ...]) -> str:
    """`('tables', 1, 'name')` -> `tables[1].name`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


UpperCase = BeforeValidator(_upper)
"""Enum-like fields accept `bronze` as well as `BRONZE`, as the Databricks UI does."""


def exactly_one(model: BaseModel, *fields: str) -> str | None:
    """The name of the one field set among `fields`; a ValueError if none or several are."""
    chosen = [name for name in fields if getattr(model, name) is not None]
    if len(chosen) != 1:
        names = ", ".join(fields[:-1]) + f" or {fields[-1]}"
        found = f"found {', '.join(chosen)}" if chosen else "found none"
        message = f"exactly one of {names} is required ({found})"
        # Several set: blame the last one, the one to remove; none set: the whole mapping.
        raise FieldError(chosen[-1], message) if chosen else ValueError(message)
    return chosen[0]


NonEmptyStr = Annotated[str, BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v)]


class BackRef:
    """A link from a child model to its owner, left out of equality.

    Comparing it would recurse (table -> pipeline -> tables -> ...), and two
    models are equal by their fields alone.
    """

    __slots__ = ("target",)

    def __init__(self, target: object = None) -> None:
        self.target = target

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BackRef)

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict) -> BackRef:
        return BackRef(self.target)


DefinedAt = SkipJsonSchema[str | None]
"""`file:line:column` of the YAML mapping an element was declared in."""

DEFINED_AT = Field(
    default=None,
    description="Where this element is declared, `file:line:column`; set by the loader, kept in "
    "the metadata so that runtime failures can name the line. Not written in YAML.",
)
"""The `defined_at` field of tables, columns and expectations."""


def equal_wherever_defined(self: BaseModel, other: object) -> bool:
    """Model equality that ignores `defined_at`: moving a table in its file changes no table.

    Assigned as `__eq__` by the models that carry `defined_at`; nested ones compare the same way.
    """
    if type(other) is not type(self):
        return NotImplemented
    assert isinstance(other, BaseModel)
    mine = {key: value for key, value in self.__dict__.items() if key != "defined_at"}
    theirs = {key: value for key, value in other.__dict__.items() if key != "defined_at"}
    return mine == theirs and self.__pydantic_private__ == other.__pydantic_private__
