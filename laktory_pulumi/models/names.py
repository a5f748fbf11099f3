"""Names Databricks accepts, and names safe to use as one segment of a path.

Unity Catalog refuses object names (catalogs, schemas, tables) longer than 255 characters or
holding a period, a space, a forward slash, an ASCII control character (00-1F) or DELETE (7F)
("Names", https://docs.databricks.com/sql/language-manual/sql-ref-names.html, and "Securable
object naming requirements" in the Unity Catalog requirements page). A backtick is refused too:
the runtime quotes names with backticks, so one inside a name would end the quoting.

Column names may hold special characters in Unity Catalog when quoted, but the runtime reads
nested fields with dots (`data.symbol`), and Delta tables without column mapping refuse spaces
and `,;{}()=` in column names; the same characters as for objects are refused for columns.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 255
"""Longest Unity Catalog object name."""

SYSTEM_COLUMNS = (
    "_bronze_at",
    "_silver_at",
    "_gold_at",
    "_tstamp",
    "_failed_expectations",
    "_flow",
)
"""Columns the runtime adds itself (`runtime/builders.py`, and quarantine tables'
`runtime/expectations.py` and `runtime/quarantine.py`); a declared column of one of these names
would be overwritten. A test keeps this list and the runtime's constants equal."""

_FORBIDDEN = {".": "a period", " ": "a space", "/": "a slash", "`": "a backtick"}
_REFUSED = re.compile(r"[. /`\x00-\x1f\x7f]")


def name_problem(name: str) -> str | None:
    """Why Unity Catalog would refuse `name` as a catalog, schema, table or column, or None."""
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; Unity Catalog allows at most {MAX_NAME_LENGTH}"
    if _REFUSED.search(name) is None:  # the common case, in one scan (read_metadata's hot path)
        return None
    for character, words in _FORBIDDEN.items():
        if character in name:
            return f"holds {words}, which Unity Catalog does not allow in a name"
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in name):
        return "holds a control character, which Unity Catalog does not allow in a name"
    return None


def segment_problem(name: str) -> str | None:
    """Why `name` cannot be one segment of a file or workspace path, or None.

    Pipeline, table, producer and event names become folders and files (`pipelines/<name>.json`,
    `events/<producer>/<name>/`); `..` or a slash would put them outside their folder.
    """
    if name in (".", ".."):
        return f"'{name}' cannot name a folder: it would point outside its parent"
    if "/" in name or "\\" in name:
        return "holds a slash; it names a folder and must be one path segment"
    if "\x00" in name:
        return "holds a NUL character"
    return None
