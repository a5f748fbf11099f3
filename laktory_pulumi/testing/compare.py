"""Rows found against rows expected, and the diff a person reads.

Values come from Spark on both sides (the expected ones cast to the table's column types), so
a timestamp written `2024-01-02 10:00:00` equals the one the table holds. Floating-point values
compare within a relative tolerance; rows compare as a multiset unless the test orders them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def same(left: Any, right: Any, tolerance: float) -> bool:
    """Equal values; floats within `tolerance` (relative, and absolute near zero)."""
    if isinstance(left, float) and isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return math.isclose(left, right, rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(
            same(a, b, tolerance) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(
            same(left[key], right[key], tolerance) for key in left
        )
    return bool(left == right)


def shown(value: Any) -> str:
    """A value as YAML would write it."""
    if value is None:
        return "null"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "asDict"):
        return shown_row(list(value.asDict()), list(value))
    if isinstance(value, dict):
        return shown_row(list(value), list(value.values()))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    return repr(value) if isinstance(value, str) and value != value.strip() else str(value)


def shown_row(columns: Sequence[str], values: Sequence[Any]) -> str:
    return "{" + ", ".join(f"{c}: {shown(v)}" for c, v in zip(columns, values, strict=True)) + "}"


@dataclass
class RowDiff:
    """Rows expected but not found, and rows found but not expected (in order when ordered)."""

    columns: list[str]
    missing: list[tuple[Any, ...]] = field(default_factory=list)
    unexpected: list[tuple[Any, ...]] = field(default_factory=list)
    misplaced: list[tuple[int, tuple[Any, ...], tuple[Any, ...]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.missing or self.unexpected or self.misplaced)

    def lines(self) -> list[str]:
        """`- expected` / `+ found` lines, as a unified diff shows them."""
        out = [f"rows differ on {', '.join(self.columns)} (- expected, + found):"]
        for position, expected, found in self.misplaced:
            out.append(f"  row {position + 1}:")
            out.append(f"  - {shown_row(self.columns, expected)}")
            out.append(f"  + {shown_row(self.columns, found)}")
        out += [f"  - {shown_row(self.columns, row)}" for row in self.missing]
        out += [f"  + {shown_row(self.columns, row)}" for row in self.unexpected]
        return out


def diff_rows(
    columns: list[str],
    expected: list[tuple[Any, ...]],
    found: list[tuple[Any, ...]],
    *,
    ordered: bool,
    tolerance: float,
) -> RowDiff:
    """How `found` differs from `expected` (an empty diff when they hold the same rows)."""
    diff = RowDiff(columns)
    if ordered:
        for position, (want, got) in enumerate(zip(expected, found, strict=False)):
            if not same(want, got, tolerance):
                diff.misplaced.append((position, want, got))
        diff.missing = list(expected[len(found) :])
        diff.unexpected = list(found[len(expected) :])
        return diff
    left = list(found)
    for want in expected:
        match = next((i for i, got in enumerate(left) if same(want, got, tolerance)), None)
        if match is None:
            diff.missing.append(want)
        else:
            left.pop(match)
    diff.unexpected = left
    return diff
