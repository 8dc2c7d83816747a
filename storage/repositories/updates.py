"""The channel's updates already processed, so that a redelivered one is skipped."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, delete, select

from storage.models import ProcessedUpdate, utcnow
from storage.repositories._base import insert_once

if TYPE_CHECKING:
    from storage.unit import Unit


_UPDATE_SEEN = select(ProcessedUpdate.update_id).where(
    ProcessedUpdate.channel == bindparam("channel"),
    ProcessedUpdate.update_id == bindparam("update_id"),
)


class UpdateRepository:
    def __init__(self, unit: Unit) -> None:
        self._connection = unit.connection

    async def seen(self, channel: str, update_id: int | str) -> bool:
        """Whether this update was processed before. Ids are kept as text: Telegram's numbers
        and Messenger's message ids alike."""
        params = {"channel": channel, "update_id": str(update_id)}
        return await self._connection.scalar(_UPDATE_SEEN, params) is not None

    async def first_time(self, channel: str, update_id: int | str) -> bool:
        """Record an update; False when it was processed before (a redelivery)."""
        values = {"channel": channel, "update_id": str(update_id), "processed_at": utcnow()}
        return await insert_once(self._connection, ProcessedUpdate, values)

    async def forget_before(self, moment: datetime) -> None:
        await self._connection.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < moment)
        )
