"""Appointments (``A-0042``): requested by a person, confirmed and settled at the desk."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import AppointmentDto
from storage.models import Appointment
from storage.references import appointment_reference
from storage.repositories._base import move_status
from storage.states import AppointmentStatus, appointment_allowed_from

if TYPE_CHECKING:
    from storage.unit import Unit


class AppointmentRepository:
    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    @property
    def _session(self) -> AsyncSession:
        return self._unit.orm()

    async def create(self, **values: Any) -> AppointmentDto:
        row = Appointment(status=AppointmentStatus.REQUESTED, **values)
        self._session.add(row)
        await self._session.flush()
        row.reference = appointment_reference(row.id)
        await self._session.flush()
        return _appointment_dto(row)

    async def get(self, reference: str) -> AppointmentDto | None:
        row = await self._session.scalar(
            select(Appointment).where(Appointment.reference == reference)
        )
        return _appointment_dto(row) if row else None

    async def move(self, reference: str, target: AppointmentStatus, **values: Any) -> bool:
        """Change the status if the appointment lifecycle allows it (atomically)."""
        return await move_status(
            self._session,
            Appointment,
            appointment_allowed_from(target),
            reference,
            target,
            values,
        )

    async def list_appointments(
        self, status: AppointmentStatus | None = None
    ) -> list[AppointmentDto]:
        stmt = select(Appointment).order_by(Appointment.id)
        if status:
            stmt = stmt.where(Appointment.status == status)
        return [_appointment_dto(r) for r in await self._session.scalars(stmt)]

    async def due_reminders(self, start: datetime, end: datetime) -> list[AppointmentDto]:
        """Confirmed appointments starting in [start, end) whose person was not reminded."""
        rows = await self._session.scalars(
            select(Appointment)
            .where(
                Appointment.status == AppointmentStatus.CONFIRMED,
                Appointment.reminded.is_(False),
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
            )
            # Several bot instances run this: each reminder is taken by one of them.
            .with_for_update(skip_locked=True)
        )
        return [_appointment_dto(r) for r in rows]

    async def mark_reminded(self, reference: str) -> None:
        await self._session.execute(
            update(Appointment).where(Appointment.reference == reference).values(reminded=True)
        )


def _appointment_dto(a: Appointment) -> AppointmentDto:
    assert a.reference is not None
    return AppointmentDto(
        id=a.id,
        reference=a.reference,
        status=AppointmentStatus(a.status),
        lang=a.lang,
        kind=a.kind,
        place=a.place,
        office_id=a.office_id,
        preferred_day=a.preferred_day,
        part_of_day=a.part_of_day,
        phone=a.phone,
        starts_at=a.starts_at,
        user_id=a.user_id,
        created_at=a.created_at,
    )
