"""Who may query a pipeline's tables."""

from __future__ import annotations

from .permission import Principal


class Reader(Principal):
    """A principal granted USE CATALOG on the pipeline's catalog, USE SCHEMA and SELECT on its
    target schema (Unity Catalog)."""
