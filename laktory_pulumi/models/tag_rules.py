"""A table's `tags`: Unity Catalog tags, assigned by the deploy (`deploy.table_tags`).

Unity Catalog tags its securables (Databricks docs, "Apply tags to Unity Catalog securable
objects"), so a Hive metastore pipeline's tables cannot have them, and a private table is not
published to the catalog at all. A tag key is at most 255 characters, a value at most 1000
(same page, "Constraints").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .pipeline import Pipeline

Path = tuple[str | int, ...]
MAX_KEY = 255
MAX_VALUE = 1000


def tag_rules(pipeline: Pipeline) -> list[tuple[Path, str]]:
    """Tags that cannot be assigned, each at its field."""
    problems: list[tuple[Path, str]] = []
    for index, table in enumerate(pipeline.tables):
        if not table.tags:
            continue
        at: Path = ("tables", index, "tags")
        if pipeline.catalog is None:
            problems.append((at, "tags are Unity Catalog's: set the pipeline's catalog"))
            continue
        if table.private:
            problems.append(
                (at, "a private table is not published to the catalog, so it cannot be tagged")
            )
            continue
        for key, value in table.tags.items():
            if not key.strip() or len(key) > MAX_KEY:
                problems.append(((*at, key), f"a tag key has 1 to {MAX_KEY} characters"))
            elif len(value) > MAX_VALUE:
                problems.append(((*at, key), f"a tag value has at most {MAX_VALUE} characters"))
    return problems
