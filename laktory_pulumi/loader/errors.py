"""Located errors: `file:line:column: field.path: message`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class LocatedError:
    """One problem of an input file, at a 1-based line and column."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.field}: {self.message}"


class LoadError(Exception):
    """Every problem found in the inputs; nothing was loaded."""

    def __init__(self, errors: list[LocatedError]) -> None:
        self.errors = sorted(set(errors))
        super().__init__("\n".join(str(error) for error in self.errors))
