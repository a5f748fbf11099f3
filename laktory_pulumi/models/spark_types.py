"""Spark SQL type names, checked without importing Spark.

Validation runs where pyspark is not installed (a CI job that only previews the
deploy), so the grammar of Spark SQL data types lives here: primitives,
`decimal(p, s)`, `char(n)`, `varchar(n)`, `array<T>`, `map<K, V>` and
`struct<name: T, ...>`.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

_PRIMITIVES = {
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "tinyint": "tinyint",
    "byte": "tinyint",
    "smallint": "smallint",
    "short": "smallint",
    "int": "int",
    "integer": "int",
    "bigint": "bigint",
    "long": "bigint",
    "float": "float",
    "real": "float",
    "double": "double",
    "decimal": "decimal(10,0)",
    "dec": "decimal(10,0)",
    "numeric": "decimal(10,0)",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ltz": "timestamp",
    "timestamp_ntz": "timestamp_ntz",
    "binary": "binary",
    "void": "void",
    "variant": "variant",
}

_TOKEN = re.compile(
    r"\s*(?:(?P<word>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)|(?P<num>\d+)|(?P<sym>[<>(),:]))"
)


class SparkTypeError(ValueError):
    """A string that is not a Spark SQL data type."""


def _suggest(word: str) -> str:
    names = sorted(set(_PRIMITIVES) | {"array", "map", "struct", "char", "varchar"})
    close = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if not match:
                raise SparkTypeError(f"'{text}' is not a Spark SQL type: unexpected '{text[pos:]}'")
            self.tokens.append(match.group(match.lastgroup or "word"))
            pos = match.end()
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            want = f"'{expected}'" if expected else "a type"
            raise SparkTypeError(f"'{self.text}' is not a Spark SQL type: expected {want}")
        self.index += 1
        return token

    def number(self) -> int:
        token = self.take()
        if not token.isdigit():
            raise SparkTypeError(f"'{self.text}' is not a Spark SQL type: expected a number")
        return int(token)

    def parse_type(self) -> str:
        word = self.take()
        name = word.lower()
        if name == "array":
            self.take("<")
            inner = self.parse_type()
            self.take(">")
            return f"array<{inner}>"
        if name == "map":
            self.take("<")
            key = self.parse_type()
            self.take(",")
            value = self.parse_type()
            self.take(">")
            return f"map<{key},{value}>"
        if name == "struct":
            self.take("<")
            fields = []
            while self.peek() != ">":
                field = self.take()
                if self.peek() == ":":
                    self.take(":")
                fields.append(f"{field}:{self.parse_type()}")
                if self.peek() == ",":
                    self.take(",")
            self.take(">")
            return f"struct<{','.join(fields)}>"
        if name in ("decimal", "dec", "numeric") and self.peek() == "(":
            self.take("(")
            precision = self.number()
            scale = 0
            if self.peek() == ",":
                self.take(",")
                scale = self.number()
            self.take(")")
            if not 1 <= precision <= 38 or scale > precision:
                raise SparkTypeError(
                    f"'{self.text}' is not a Spark SQL type: decimal precision is 1 to 38 "
                    "and scale at most the precision"
                )
            return f"decimal({precision},{scale})"
        if name in ("char", "varchar"):
            self.take("(")
            length = self.number()
            self.take(")")
            return f"{name}({length})"
        if name in _PRIMITIVES:
            return _PRIMITIVES[name]
        raise SparkTypeError(f"'{word}' is not a Spark SQL type{_suggest(word)}")


@lru_cache(maxsize=4096)
def normalize_spark_type(text: str) -> str:
    """Return the canonical spelling of a Spark SQL type, or raise `SparkTypeError`."""
    parser = _Parser(text)
    if not parser.tokens:
        raise SparkTypeError("a Spark SQL type is required, for example 'double'")
    result = parser.parse_type()
    if parser.peek() is not None:
        raise SparkTypeError(f"'{text}' is not a Spark SQL type: unexpected '{parser.peek()}'")
    return result


def check_spark_type(text: str) -> str:
    """Pydantic validator: keep the user's spelling once it is known to be valid."""
    normalize_spark_type(text.strip())
    return text.strip()
