"""The caseworkers: who may use the desk, and which languages they speak."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import StaffDto
from storage.models import Staff
from storage.repositories._base import rowcount

if TYPE_CHECKING:
    from storage.unit import Unit


# Every private Telegram message asks this (is the sender a caseworker?): a prebuilt Core
# statement on the unit's connection, no ORM session.
_IS_ACTIVE = (
    select(Staff.id)
    .where(
        Staff.channel == bindparam("channel"),
        Staff.external_id == bindparam("external_id"),
        Staff.active,
    )
    .limit(1)
)


class StaffRepository:
    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    @property
    def _session(self) -> AsyncSession:
        return self._unit.orm()

    async def add(
        self, channel: str, external_id: str, name: str, languages: tuple[str, ...] = ()
    ) -> StaffDto:
        row = await self._session.scalar(
            select(Staff).where(Staff.channel == channel, Staff.external_id == external_id)
        )
        if row is None:
            row = Staff(channel=channel, external_id=external_id)
            self._session.add(row)
        row.name, row.languages, row.active = name, ",".join(languages), True
        await self._session.flush()
        return staff_dto(row)

    async def is_active(self, channel: str, external_id: str) -> bool:
        """Whether this account is a caseworker now."""
        params = {"channel": channel, "external_id": external_id}
        return await self._unit.connection.scalar(_IS_ACTIVE, params) is not None

    async def find(self, channel: str, external_id: str) -> StaffDto | None:
        row = await self._session.scalar(
            select(Staff).where(
                Staff.channel == channel, Staff.external_id == external_id, Staff.active
            )
        )
        return staff_dto(row) if row else None

    async def get(self, staff_id: int) -> StaffDto | None:
        row = await self._session.get(Staff, staff_id)
        return staff_dto(row) if row else None

    async def remove(self, channel: str, external_id: str) -> bool:
        result = await self._session.execute(
            update(Staff)
            .where(Staff.channel == channel, Staff.external_id == external_id, Staff.active)
            .values(active=False)
        )
        return rowcount(result) == 1

    async def list_staff(self) -> list[StaffDto]:
        rows = await self._session.scalars(select(Staff).where(Staff.active).order_by(Staff.id))
        return [staff_dto(r) for r in rows]


def staff_dto(s: Staff) -> StaffDto:
    return StaffDto(
        id=s.id,
        channel=s.channel,
        external_id=s.external_id,
        name=s.name,
        languages=tuple(x for x in s.languages.split(",") if x),
        active=s.active,
        login=s.login,
        role=s.role,
    )
