"""The outbox: every message to a person or to the desk, stored before it is sent."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import OutboxDto
from storage.models import OutboxMessage, utcnow
from storage.states import OutboxStatus

if TYPE_CHECKING:
    from storage.unit import Unit


_ADD_OUTBOX = insert(OutboxMessage).returning(OutboxMessage.id)
_DUE = (
    select(*OutboxMessage.__table__.c)
    .where(
        OutboxMessage.channel.in_(bindparam("channels", expanding=True)),
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.next_attempt_at <= bindparam("now"),
    )
    .order_by(OutboxMessage.id)
    .limit(bindparam("limit"))
)
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)
_LEASE = (
    update(OutboxMessage)
    .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
    .values(next_attempt_at=bindparam("until"), attempts=OutboxMessage.attempts + 1)
)
_MARK_SENT = (
    update(OutboxMessage)
    .where(OutboxMessage.id == bindparam("message_id"))
    .values(
        status=OutboxStatus.SENT,
        sent_at=bindparam("sent_now"),
        external_id=bindparam("their_id"),
    )
)


class OutboxRepository:
    """Messages to deliver. Claiming a batch leases it, so two senders never send one twice."""

    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    @property
    def _session(self) -> AsyncSession:
        return self._unit.orm()

    async def add(
        self, channel: str, recipient: str, body: dict[str, Any], reference: str | None = None
    ) -> int:
        """Queue a message (Core, on the unit's connection: every turn does); its id."""
        values = {"channel": channel, "recipient": recipient, "body": body, "reference": reference}
        return (await self._unit.connection.execute(_ADD_OUTBOX, values)).scalar_one()

    async def claim_due(
        self, channels: tuple[str, ...], lease: timedelta, limit: int = 20
    ) -> list[OutboxDto]:
        """Lease the due pending messages, oldest first, one recipient's messages in order.
        Core statements on the unit's connection (every delivery round asks, most find
        nothing): no ORM session."""
        now = utcnow()
        stmt = _DUE_LOCKED if self._unit.dialect == "postgresql" else _DUE
        connection = self._unit.connection
        params = {"channels": list(channels), "now": now, "limit": limit}
        rows = (await connection.execute(stmt, params)).all()
        if not rows:
            return []
        # Keep each recipient's messages in order: a message is taken only when every earlier
        # pending message of its chat is taken with it. An earlier one that is not (waiting
        # for a retry, leased by another instance, or locked by one whose lease is not
        # committed yet: SKIP LOCKED passed over it, but it is still pending) holds the rest.
        taken = {r.id for r in rows}
        pending = await connection.execute(
            select(OutboxMessage.channel, OutboxMessage.recipient, OutboxMessage.id).where(
                OutboxMessage.channel.in_(channels),
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.recipient.in_({r.recipient for r in rows}),
                OutboxMessage.id < max(taken),
            )
        )
        first_other: dict[tuple[str, str], int] = {}
        for channel, recipient, row_id in pending:
            if row_id not in taken:
                key = (channel, recipient)
                first_other[key] = min(row_id, first_other.get(key, row_id))
        due = [r for r in rows if first_other.get((r.channel, r.recipient), r.id + 1) > r.id]
        if due:
            await connection.execute(_LEASE, {"ids": [r.id for r in due], "until": now + lease})
        return [_outbox_dto(r, attempts=r.attempts + 1) for r in due]

    async def mark_sent(self, message_id: int, external_id: str | None) -> None:
        values = {"message_id": message_id, "sent_now": utcnow(), "their_id": external_id}
        await self._unit.connection.execute(_MARK_SENT, values)

    async def retry_later(self, message_id: int, delay: timedelta) -> None:
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(next_attempt_at=utcnow() + delay)
        )

    async def release(self, message_ids: list[int]) -> None:
        """Give back leased messages that were not tried (an earlier one to their chat failed)."""
        if message_ids:
            await self._session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(message_ids))
                .values(next_attempt_at=utcnow(), attempts=OutboxMessage.attempts - 1)
            )

    async def mark_failed(self, message_id: int) -> None:
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status=OutboxStatus.FAILED)
        )

    async def reference_of(
        self, channel: str, external_id: str, recipient: str | None = None
    ) -> str | None:
        """The request a delivered message was about (a caseworker replied to it)."""
        stmt = select(OutboxMessage.reference).where(
            OutboxMessage.channel == channel, OutboxMessage.external_id == external_id
        )
        if recipient is not None:
            stmt = stmt.where(OutboxMessage.recipient == recipient)
        return await self._session.scalar(stmt.limit(1))

    async def first_body(self, reference: str, key: str) -> dict[str, Any] | None:
        """The first message of a kind about a request (to announce it again)."""
        rows = await self._session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.reference == reference)
            .order_by(OutboxMessage.id)
        )
        return next((dict(r.body) for r in rows if r.body.get("key") == key), None)

    async def external_id_of(self, channel: str, reference: str) -> str | None:
        """Where the announcement of a request was posted (to thread replies under it)."""
        return await self._session.scalar(
            select(OutboxMessage.external_id)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.reference == reference,
                OutboxMessage.external_id.is_not(None),
            )
            .order_by(OutboxMessage.id)
            .limit(1)
        )

    async def take(self, channel: str, recipient: str) -> list[OutboxDto]:
        """Hand over a recipient's pending messages to a channel that shows them itself."""
        rows = list(
            await self._session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.channel == channel,
                    OutboxMessage.recipient == recipient,
                    OutboxMessage.status == OutboxStatus.PENDING,
                )
                .order_by(OutboxMessage.id)
            )
        )
        for row in rows:
            row.status, row.sent_at = OutboxStatus.SENT, utcnow()
        await self._session.flush()
        return [_outbox_dto(r) for r in rows]

    async def pending(self) -> list[OutboxDto]:
        rows = await self._session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .order_by(OutboxMessage.id)
        )
        return [_outbox_dto(r) for r in rows]

    async def all(self) -> list[OutboxDto]:
        rows = await self._session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [_outbox_dto(r) for r in rows]


def _outbox_dto(m: Any, attempts: int | None = None) -> OutboxDto:
    """From an OutboxMessage or a row of its columns."""
    return OutboxDto(
        id=m.id,
        channel=m.channel,
        recipient=m.recipient,
        body=dict(m.body),
        reference=m.reference,
        attempts=m.attempts if attempts is None else attempts,
        status=OutboxStatus(m.status),
        external_id=m.external_id,
    )
