"""Flood-limit counters in the database, shared by every instance."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.expression import Executable

from storage.models import RateLimit

if TYPE_CHECKING:
    from storage.unit import Unit


class RateRepository:
    """Flood-limit counters in the database, so that every instance counts the same events."""

    def __init__(self, unit: Unit) -> None:
        self._connection = unit.connection

    async def hit(self, key: str, window: int) -> int:
        """Count one event of `key` in minute `window`; how many it made in that minute."""
        statement = _rate_hit_statement(self._connection.dialect.name)
        result = await self._connection.execute(statement, {"key": key, "window": window})
        return int(result.scalar_one())


@functools.cache
def _rate_hit_statement(dialect: str) -> Executable:
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_(RateLimit).values(
        key=bindparam("key"), window=bindparam("window"), count=1
    )
    table = RateLimit.__table__
    same_minute = table.c.window == statement.excluded.window
    return statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "count": case((same_minute, table.c.count + 1), else_=1),
            "window": statement.excluded.window,
        },
    ).returning(table.c.count)
