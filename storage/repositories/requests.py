"""Callback requests (``R-0042``): made by a person, claimed, answered and closed at the desk."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import CallbackDto
from storage.models import CallbackRequest, utcnow
from storage.references import request_reference
from storage.repositories._base import move_status, rowcount
from storage.states import RequestStatus, allowed_from

if TYPE_CHECKING:
    from storage.unit import Unit


class CallbackRepository:
    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    @property
    def _session(self) -> AsyncSession:
        return self._unit.orm()

    async def create(
        self,
        *,
        user_id: int,
        lang: str,
        topic_id: str | None,
        phone: str,
        preferred_time: str,
        question: str | None,
        consent_at: datetime,
        urgent: bool = False,
        consent_version: str | None = None,
    ) -> CallbackDto:
        request = CallbackRequest(
            user_id=user_id,
            lang=lang,
            topic_id=topic_id,
            phone=phone,
            preferred_time=preferred_time,
            question=question,
            consent_at=consent_at,
            consent_version=consent_version,
            status=RequestStatus.NEW,
            urgent=urgent,
        )
        self._session.add(request)
        await self._session.flush()
        request.reference = request_reference(request.id)
        await self._session.flush()
        return _callback_dto(request)

    async def get(self, reference: str) -> CallbackDto | None:
        row = await self._session.scalar(
            select(CallbackRequest).where(CallbackRequest.reference == reference)
        )
        return _callback_dto(row) if row else None

    async def waiting_reference_of(self, user_id: int) -> str | None:
        """The reference of the user's latest request that is not closed yet."""
        return await self._session.scalar(
            select(CallbackRequest.reference)
            .where(
                CallbackRequest.user_id == user_id, CallbackRequest.status != RequestStatus.CLOSED
            )
            .order_by(CallbackRequest.id.desc())
            .limit(1)
        )

    async def latest_open_of(self, user_id: int) -> CallbackDto | None:
        """The user's latest request that is not closed yet."""
        row = await self._session.scalar(
            select(CallbackRequest)
            .where(
                CallbackRequest.user_id == user_id, CallbackRequest.status != RequestStatus.CLOSED
            )
            .order_by(CallbackRequest.id.desc())
            .limit(1)
        )
        return _callback_dto(row) if row else None

    async def move(self, reference: str, target: RequestStatus, **values: Any) -> bool:
        """Change the status if the lifecycle allows it from the current one (atomically)."""
        return await move_status(
            self._session, CallbackRequest, allowed_from(target), reference, target, values
        )

    async def claim(self, reference: str, staff_id: int) -> bool:
        """Claim a new request; exactly one of several concurrent claims wins."""
        return await self.move(
            reference, RequestStatus.CLAIMED, claimed_by=staff_id, claimed_at=utcnow()
        )

    async def mark_responded(self, reference: str) -> None:
        await self._session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.reference == reference,
                CallbackRequest.first_response_at.is_(None),
            )
            .values(first_response_at=utcnow())
        )

    async def close(self, reference: str) -> bool:
        return await self.move(reference, RequestStatus.CLOSED, closed_at=utcnow())

    async def rate(self, reference: str, user_id: int, rating: int) -> bool:
        result = await self._session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.reference == reference,
                CallbackRequest.user_id == user_id,
                CallbackRequest.status == RequestStatus.CLOSED,
                CallbackRequest.rating.is_(None),
            )
            .values(rating=rating)
        )
        return rowcount(result) == 1

    async def mark_announced(self, reference: str) -> None:
        await self._session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.reference == reference)
            .values(announced_at=utcnow())
        )

    async def overdue(
        self, now: datetime, normal: timedelta, urgent: timedelta
    ) -> list[CallbackDto]:
        """Unclaimed requests due for an announcement to everyone (the SLA reminder)."""
        rows = await self._session.scalars(
            select(CallbackRequest)
            .where(
                CallbackRequest.status == RequestStatus.NEW,
                or_(
                    (CallbackRequest.urgent.is_(False))
                    & CallbackRequest.announced_at.is_(None)
                    & (CallbackRequest.created_at <= now - normal),
                    (CallbackRequest.urgent.is_(True))
                    & (CallbackRequest.announced_at <= now - urgent),
                ),
            )
            .order_by(CallbackRequest.urgent.desc(), CallbackRequest.id)
            .with_for_update(skip_locked=True)
        )
        return [_callback_dto(r) for r in rows]

    async def list_requests(self, status: RequestStatus | None = None) -> list[CallbackDto]:
        # Urgent requests first: the top of the queue.
        stmt = select(CallbackRequest).order_by(CallbackRequest.urgent.desc(), CallbackRequest.id)
        if status:
            stmt = stmt.where(CallbackRequest.status == status)
        return [_callback_dto(r) for r in await self._session.scalars(stmt)]


def _callback_dto(r: CallbackRequest) -> CallbackDto:
    assert r.reference is not None
    return CallbackDto(
        id=r.id,
        reference=r.reference,
        status=RequestStatus(r.status),
        lang=r.lang,
        topic_id=r.topic_id,
        phone=r.phone,
        preferred_time=r.preferred_time,
        question=r.question,
        created_at=r.created_at,
        urgent=r.urgent,
        user_id=r.user_id,
        claimed_by=r.claimed_by,
        claimed_at=r.claimed_at,
        first_response_at=r.first_response_at,
        closed_at=r.closed_at,
        rating=r.rating,
    )
