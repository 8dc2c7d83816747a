"""Storage errors that callers catch without importing the storage machinery."""

from __future__ import annotations


class SchemaOutdatedError(RuntimeError):
    """The database schema is older than this code; run `poradna db upgrade`."""
