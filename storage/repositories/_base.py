"""What the repositories share: insert-once on either backend, and a conditional status change."""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Result, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.expression import Executable

from storage.models import Appointment, CallbackRequest, utcnow


async def insert_once(connection: AsyncConnection, model: type, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either backend; True when the row was new."""
    statement = _insert_once_statement(connection.dialect.name, model)
    return rowcount(await connection.execute(statement, values)) == 1


def rowcount(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE touched (its result is a cursor's)."""
    return cast("CursorResult[Any]", result).rowcount


@functools.cache
def _insert_once_statement(dialect: str, model: type) -> Executable:
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert_(model).on_conflict_do_nothing()


async def move_status(
    session: AsyncSession,
    model: type[CallbackRequest] | type[Appointment],
    sources: tuple[StrEnum, ...],
    reference: str,
    target: StrEnum,
    values: dict[str, Any],
) -> bool:
    """One conditional UPDATE: applied whole if the status allows it, else not at all."""
    result = await session.execute(
        update(model)
        .where(model.reference == reference, model.status.in_(sources))
        .values(status=target, updated_at=utcnow(), **values)
    )
    return rowcount(result) == 1
