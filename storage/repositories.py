"""Repositories: they never commit, and return DTOs.

Those of every message (`StateRepository`, `InteractionRepository`, `UnansweredRepository`,
`UpdateRepository`, `enqueue`) take a connection and run prebuilt Core statements; the others
take an ORM session (`storage.db.Unit` gives both, in one transaction).
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import bindparam, case, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.expression import Executable

from storage import states
from storage.dto import AppointmentDto, CallbackDto, OutboxDto, StaffDto, StateDto, UserDto
from storage.models import (
    Appointment,
    CallbackRequest,
    ConsentText,
    ConversationState,
    Interaction,
    OutboxMessage,
    ProcessedUpdate,
    RateLimit,
    Staff,
    UnansweredQuestion,
    User,
    utcnow,
)
from storage.references import appointment_reference, request_reference
from storage.states import AppointmentStatus, OutboxStatus, RequestStatus

# The step of a person who never wrote (the flows' `Step.NEW`): storage keeps steps as strings.
NOT_STARTED: Final = "new"


class StaleStateError(RuntimeError):
    """Another message of the same user changed the conversation first; handle it again."""


# The statements of every message, built once: building a SQLAlchemy statement costs more than
# SQLite takes to run it. Plain Core statements on the turn's connection, no ORM bookkeeping.
# The reference of the person's open case (claimed, not closed): their text goes to its
# caseworker. Read with the state, since every text message needs it.
_OPEN_CASE = (
    select(CallbackRequest.reference)
    .where(CallbackRequest.user_id == User.id, CallbackRequest.status.in_(states.OPEN))
    .order_by(CallbackRequest.id.desc())
    .limit(1)
    .correlate(User)
    .scalar_subquery()
)
_USER_AND_STATE = (
    select(
        User.id,
        User.channel,
        User.external_id,
        User.lang,
        User.switch_offered,
        User.person_key,
        ConversationState.step,
        ConversationState.data,
        ConversationState.version,
        _OPEN_CASE.label("open_case"),
    )
    .outerjoin(ConversationState, ConversationState.user_id == User.id)
    .where(User.channel == bindparam("channel"), User.external_id == bindparam("external_id"))
)
_SAVE_STATE = (
    update(ConversationState)
    .where(
        ConversationState.user_id == bindparam("user_id_"),
        ConversationState.version == bindparam("version_"),
    )
    .values(
        step=bindparam("step_"),
        data=bindparam("data_", type_=ConversationState.data.type),
        version=bindparam("version_") + 1,
        updated_at=bindparam("now_"),
    )
)

_NEW_STATE = insert(ConversationState)
_ADD_INTERACTION = insert(Interaction)
_ADD_UNANSWERED = insert(UnansweredQuestion)
_ADD_OUTBOX = insert(OutboxMessage).returning(OutboxMessage.id)
_SET_LANG = (
    update(User)
    .where(User.id == bindparam("user_id_"))
    .values(lang=bindparam("lang_"), updated_at=bindparam("now_"))
)
_UPDATE_SEEN = select(ProcessedUpdate.update_id).where(
    ProcessedUpdate.channel == bindparam("channel"),
    ProcessedUpdate.update_id == bindparam("update_id"),
)
_SWITCH_OFFERED = (
    update(User)
    .where(User.id == bindparam("user_id_"))
    .values(switch_offered=True, updated_at=bindparam("now_"))
)


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_or_create(self, channel: str, external_id: str) -> UserDto:
        """The user, created on first contact (safe when two first messages race)."""
        connection = await self._session.connection()
        user, _ = await StateRepository(connection).open(channel, external_id)
        return user

    async def get(self, user_id: int) -> UserDto | None:
        user = await self._session.get(User, user_id)
        return _user_dto(user) if user else None


class StateRepository:
    """A person and where their conversation is: what every message reads and writes."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def open(self, channel: str, external_id: str) -> tuple[UserDto, StateDto]:
        """The user (created on first contact, safe when two first messages race) and where
        their conversation is, in one query for a returning user."""
        connection = self._connection
        params = {"channel": channel, "external_id": external_id}
        row = (await connection.execute(_USER_AND_STATE, params)).first()
        if row is None:
            now = utcnow()
            values = {
                **params,
                "created_at": now,
                "updated_at": now,
                "person_key": str(uuid.uuid4()),
            }
            await _insert_once(connection, User, values)
            row = (await connection.execute(_USER_AND_STATE, params)).one()
        user = UserDto(
            id=row.id,
            channel=row.channel,
            external_id=row.external_id,
            lang=row.lang,
            switch_offered=row.switch_offered,
            person_key=row.person_key,
        )
        if row.step is None:
            return user, StateDto(step=NOT_STARTED, data={}, version=0, open_case=row.open_case)
        return user, StateDto(
            step=row.step,
            data=dict(row.data or {}),
            version=row.version,
            open_case=row.open_case,
        )

    async def save(self, user_id: int, step: str, data: dict[str, Any], version: int) -> None:
        """Store the new state if nobody changed it since `version` was read."""
        if version == 0:
            try:
                async with self._connection.begin_nested():
                    await self._connection.execute(
                        _NEW_STATE,
                        {
                            "user_id": user_id,
                            "step": step,
                            "data": data,
                            "version": 1,
                            "updated_at": utcnow(),
                        },
                    )
            except IntegrityError as exc:
                raise StaleStateError(user_id) from exc
            return
        result = await self._connection.execute(
            _SAVE_STATE,
            {
                "user_id_": user_id,
                "version_": version,
                "step_": step,
                "data_": data,
                "now_": utcnow(),
            },
        )
        if result.rowcount != 1:
            raise StaleStateError(user_id)

    async def set_lang(self, user_id: int, lang: str) -> None:
        await self._connection.execute(
            _SET_LANG, {"user_id_": user_id, "lang_": lang, "now_": utcnow()}
        )

    async def mark_switch_offered(self, user_id: int) -> None:
        await self._connection.execute(_SWITCH_OFFERED, {"user_id_": user_id, "now_": utcnow()})


class CallbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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

    async def move(self, reference: str, target: str, **values: Any) -> bool:
        """Change the status if the lifecycle allows it from the current one (atomically)."""
        return await _move(
            self._session, CallbackRequest, states.allowed_from(target), reference, target, values
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
        return result.rowcount == 1

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

    async def list_requests(self, status: str | None = None) -> list[CallbackDto]:
        # Urgent requests first: the top of the queue.
        stmt = select(CallbackRequest).order_by(CallbackRequest.urgent.desc(), CallbackRequest.id)
        if status:
            stmt = stmt.where(CallbackRequest.status == status)
        return [_callback_dto(r) for r in await self._session.scalars(stmt)]


class StaffRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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
        return _staff_dto(row)

    async def find(self, channel: str, external_id: str) -> StaffDto | None:
        row = await self._session.scalar(
            select(Staff).where(
                Staff.channel == channel, Staff.external_id == external_id, Staff.active
            )
        )
        return _staff_dto(row) if row else None

    async def get(self, staff_id: int) -> StaffDto | None:
        row = await self._session.get(Staff, staff_id)
        return _staff_dto(row) if row else None

    async def remove(self, channel: str, external_id: str) -> bool:
        result = await self._session.execute(
            update(Staff)
            .where(Staff.channel == channel, Staff.external_id == external_id, Staff.active)
            .values(active=False)
        )
        return result.rowcount == 1

    async def list_staff(self) -> list[StaffDto]:
        rows = await self._session.scalars(select(Staff).where(Staff.active).order_by(Staff.id))
        return [_staff_dto(r) for r in rows]


class OutboxRepository:
    """Messages to deliver. Claiming a batch leases it, so two senders never send one twice."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, channel: str, recipient: str, body: dict[str, Any], reference: str | None = None
    ) -> int:
        connection = await self._session.connection()
        return await enqueue(connection, channel, recipient, body, reference)

    async def claim_due(
        self, channels: tuple[str, ...], lease: timedelta, limit: int = 20
    ) -> list[OutboxDto]:
        """Lease the due pending messages, oldest first, one recipient's messages in order."""
        now = utcnow()
        stmt = (
            select(OutboxMessage)
            .where(
                OutboxMessage.channel.in_(channels),
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        if self._session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(await self._session.scalars(stmt))
        if not rows:
            return []
        # Keep each recipient's messages in order: a message is taken only when every earlier
        # pending message of its chat is taken with it. An earlier one that is not (waiting
        # for a retry, leased by another instance, or locked by one whose lease is not
        # committed yet: SKIP LOCKED passed over it, but it is still pending) holds the rest.
        taken = {r.id for r in rows}
        pending = await self._session.execute(
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
        for row in due:
            row.next_attempt_at = now + lease
            row.attempts += 1
        await self._session.flush()
        return [_outbox_dto(r) for r in due]

    async def mark_sent(self, message_id: int, external_id: str | None) -> None:
        await self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status=OutboxStatus.SENT, sent_at=utcnow(), external_id=external_id)
        )

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


async def enqueue(
    connection: AsyncConnection,
    channel: str,
    recipient: str,
    body: dict[str, Any],
    reference: str | None = None,
) -> int:
    """Put a message in the outbox; its id."""
    values = {"channel": channel, "recipient": recipient, "body": body, "reference": reference}
    return (await connection.execute(_ADD_OUTBOX, values)).scalar_one()


class RateRepository:
    """Flood-limit counters in the database, so that every instance counts the same events."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def hit(self, key: str, window: int) -> int:
        """Count one event of `key` in minute `window`; how many it made in that minute."""
        statement = _rate_hit_statement(self._connection.dialect.name)
        return (
            await self._connection.execute(statement, {"key": key, "window": window})
        ).scalar_one()


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


class UpdateRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def seen(self, channel: str, update_id: int) -> bool:
        """Whether this update was processed before."""
        params = {"channel": channel, "update_id": update_id}
        return await self._connection.scalar(_UPDATE_SEEN, params) is not None

    async def first_time(self, channel: str, update_id: int) -> bool:
        """Record an update; False when it was processed before (a redelivery)."""
        values = {"channel": channel, "update_id": update_id, "processed_at": utcnow()}
        return await _insert_once(self._connection, ProcessedUpdate, values)

    async def forget_before(self, moment: datetime) -> None:
        await self._connection.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < moment)
        )


class InteractionRepository:
    """Anonymous facts for reports: who (a random key), what kind, which topic, language, when."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(
        self, *, person_key: str, channel: str, kind: str, lang: str, topic: str | None = None
    ) -> None:
        await self._connection.execute(
            _ADD_INTERACTION,
            {
                "person_key": person_key,
                "channel": channel,
                "kind": kind,
                "lang": lang,
                "topic": topic,
            },
        )


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, version: str, lang: str, text: str) -> None:
        """Keep the exact consent text of this version and language (once)."""
        values = {"version": version, "lang": lang, "text": text, "created_at": utcnow()}
        await _insert_once(await self._session.connection(), ConsentText, values)

    async def text(self, version: str, lang: str) -> str | None:
        return await self._session.scalar(
            select(ConsentText.text).where(
                ConsentText.version == version, ConsentText.lang == lang
            )
        )


class UnansweredRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(
        self,
        *,
        user_id: int | None,
        text: str,
        lang: str,
        reason: str,
        best_topic: str | None,
        best_score: int,
    ) -> None:
        await self._connection.execute(
            _ADD_UNANSWERED,
            {
                "user_id": user_id,
                "text": text,
                "lang": lang,
                "reason": reason,
                "best_topic": best_topic,
                "best_score": best_score,
            },
        )

    async def list_questions(self) -> list[dict[str, Any]]:
        q = UnansweredQuestion
        rows = await self._connection.execute(
            select(q.text, q.lang, q.reason, q.best_topic, q.created_at.label("created")).order_by(
                q.id
            )
        )
        return [dict(row) for row in rows.mappings()]


async def _insert_once(connection: AsyncConnection, model: type, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on either backend; True when the row was new."""
    statement = _insert_once_statement(connection.dialect.name, model)
    return (await connection.execute(statement, values)).rowcount == 1


@functools.cache
def _insert_once_statement(dialect: str, model: type) -> Executable:
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert_(model).on_conflict_do_nothing()


def _user_dto(user: User) -> UserDto:
    return UserDto(
        id=user.id,
        channel=user.channel,
        external_id=user.external_id,
        lang=user.lang,
        switch_offered=user.switch_offered,
        person_key=user.person_key,
    )


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


def _staff_dto(s: Staff) -> StaffDto:
    return StaffDto(
        id=s.id,
        channel=s.channel,
        external_id=s.external_id,
        name=s.name,
        languages=tuple(x for x in s.languages.split(",") if x),
        active=s.active,
    )


def _outbox_dto(m: OutboxMessage) -> OutboxDto:
    return OutboxDto(
        id=m.id,
        channel=m.channel,
        recipient=m.recipient,
        body=dict(m.body),
        reference=m.reference,
        attempts=m.attempts,
        status=OutboxStatus(m.status),
        external_id=m.external_id,
    )


class AppointmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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

    async def move(self, reference: str, target: str, **values: Any) -> bool:
        """Change the status if the appointment lifecycle allows it (atomically)."""
        return await _move(
            self._session,
            Appointment,
            states.appointment_allowed_from(target),
            reference,
            target,
            values,
        )

    async def list_appointments(self, status: str | None = None) -> list[AppointmentDto]:
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


async def _move(
    session: AsyncSession,
    model: type[CallbackRequest] | type[Appointment],
    sources: tuple[str, ...],
    reference: str,
    target: str,
    values: dict[str, Any],
) -> bool:
    """One conditional UPDATE: applied whole if the status allows it, else not at all."""
    result = await session.execute(
        update(model)
        .where(model.reference == reference, model.status.in_(sources))
        .values(status=target, updated_at=utcnow(), **values)
    )
    return result.rowcount == 1


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
