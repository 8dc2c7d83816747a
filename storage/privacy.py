"""Personal data: erase a person on request, export it on request, erase it after retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, delete, select, update

from storage import states
from storage.models import (
    Appointment,
    CallbackRequest,
    CaseMessage,
    CaseNote,
    ConsentText,
    ConversationState,
    Interaction,
    OutboxMessage,
    ProcessedUpdate,
    RateLimit,
    UnansweredQuestion,
    User,
    utcnow,
)
from storage.repositories._base import rowcount
from storage.states import (
    FINISHED_APPOINTMENTS,
    OPEN_APPOINTMENTS,
    AppointmentStatus,
    OutboxStatus,
    RequestStatus,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.unit import Unit

UPDATE_MEMORY = timedelta(days=2)
M = TypeVar(
    "M",
    CallbackRequest,
    UnansweredQuestion,
    Appointment,
    Interaction,
    OutboxMessage,
    CaseNote,
    CaseMessage,
)


@dataclass(frozen=True)
class Erased:
    requests: int
    questions: int
    messages: int


@dataclass(frozen=True)
class Purged:
    requests: int
    questions: int
    messages: int
    conversations: int


class PrivacyRepository:
    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    @property
    def _session(self) -> AsyncSession:
        return self._unit.orm()

    async def forget(self, user_id: int) -> Erased:
        """Delete everything about a user; anonymous interaction counts stay."""
        user = await self._session.get(User, user_id)
        if user is None:
            return Erased(0, 0, 0)
        references = await self._references(user_id)
        requests = await self._session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.user_id == user_id)
            .values(phone=None, question=None, user_id=None, updated_at=utcnow())
        )
        await self._session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.reference.in_(references),
                CallbackRequest.status.in_(states.allowed_from(RequestStatus.CLOSED)),
            )
            .values(status=RequestStatus.CLOSED, closed_at=utcnow())
        )
        await self._session.execute(
            update(Appointment)
            .where(Appointment.user_id == user_id)
            .values(phone=None, user_id=None)
        )
        await self._session.execute(
            update(Appointment)
            .where(
                Appointment.user_id.is_(None),
                Appointment.status.in_(
                    states.appointment_allowed_from(AppointmentStatus.CANCELLED)
                ),
                Appointment.phone.is_(None),
            )
            .values(status=AppointmentStatus.CANCELLED)
        )
        questions = await self._session.execute(
            delete(UnansweredQuestion).where(UnansweredQuestion.user_id == user_id)
        )
        messages = await self._delete_messages(user, references)
        await self._session.execute(delete(CaseNote).where(CaseNote.reference.in_(references)))
        await self._session.execute(
            delete(ConversationState).where(ConversationState.user_id == user_id)
        )
        await self._session.execute(
            delete(RateLimit).where(RateLimit.key == f"{user.channel}:{user.external_id}")
        )
        await self._session.delete(user)
        await self._session.flush()
        return Erased(rowcount(requests), rowcount(questions), messages)

    async def _delete_messages(self, user: User, references: list[str]) -> int:
        """Every message to the person or about their requests (the outbox), and their
        requests' threads; how many."""
        to_person = (OutboxMessage.channel == user.channel) & (
            OutboxMessage.recipient == user.external_id
        )
        outbox = await self._session.execute(
            delete(OutboxMessage).where(to_person | OutboxMessage.reference.in_(references))
        )
        thread = await self._session.execute(
            delete(CaseMessage).where(CaseMessage.reference.in_(references))
        )
        return rowcount(outbox) + rowcount(thread)

    async def _references(self, user_id: int) -> list[str]:
        """The references of a person's callback requests and appointments: what the desk's
        messages about them (announcements with the phone, relayed texts) are filed under."""
        callbacks = await self._session.scalars(
            select(CallbackRequest.reference).where(CallbackRequest.user_id == user_id)
        )
        appointments = await self._session.scalars(
            select(Appointment.reference).where(Appointment.user_id == user_id)
        )
        return [*callbacks, *appointments]

    async def export(self, channel: str, external_id: str) -> dict[str, Any] | None:
        """Everything stored about a person, as plain data."""
        user = await self._session.scalar(
            select(User).where(User.channel == channel, User.external_id == external_id)
        )
        if user is None:
            return None
        state = await self._session.get(ConversationState, user.id)
        requests = await self._all(CallbackRequest, CallbackRequest.user_id == user.id)
        questions = await self._all(UnansweredQuestion, UnansweredQuestion.user_id == user.id)
        appointments = await self._all(Appointment, Appointment.user_id == user.id)
        interactions = await self._all(Interaction, Interaction.person_key == user.person_key)
        references = await self._references(user.id)
        to_person = (OutboxMessage.channel == user.channel) & (
            OutboxMessage.recipient == user.external_id
        )
        messages = await self._all(
            OutboxMessage, to_person | OutboxMessage.reference.in_(references)
        )
        notes = await self._all(CaseNote, CaseNote.reference.in_(references))
        consent = {r.reference: await self._consent_text(r) for r in requests}
        threads: dict[str | None, list[dict[str, Any]]] = {}
        for entry in await self._all(CaseMessage, CaseMessage.reference.in_(references)):
            threads.setdefault(entry.reference, []).append(_thread_row(entry))
        return {
            "user": {
                "channel": user.channel,
                "id": user.external_id,
                "language": user.lang,
                "created": _iso(user.created_at),
            },
            "conversation": {"step": state.step, "data": state.data} if state else None,
            "callback_requests": [
                {**_request_row(r, consent[r.reference]), "thread": threads.get(r.reference, [])}
                for r in requests
            ],
            "appointments": [
                {**_appointment_row(a), "thread": threads.get(a.reference, [])}
                for a in appointments
            ],
            "unanswered_questions": [_question_row(q) for q in questions],
            "interactions": [
                {"kind": i.kind, "topic": i.topic, "language": i.lang, "when": _iso(i.created_at)}
                for i in interactions
            ],
            # What the bot and the caseworkers wrote to the person, and what was passed on to
            # the caseworkers about them (their messages relayed, the announcements).
            "messages": [_message_row(m, user) for m in messages],
            # The caseworkers' internal notes on the person's requests (the web console).
            "case_notes": [
                {"about": n.reference, "text": n.text, "created": _iso(n.created_at)}
                for n in notes
            ],
        }

    async def _all(self, model: type[M], condition: ColumnElement[bool]) -> list[M]:
        """The rows of `model` that meet `condition`, in the order they were made."""
        rows = await self._session.scalars(select(model).where(condition).order_by(model.id))
        return list(rows)

    async def _consent_text(self, request: CallbackRequest) -> str | None:
        if not request.consent_version:
            return None
        return await self._session.scalar(
            select(ConsentText.text).where(
                ConsentText.version == request.consent_version, ConsentText.lang == request.lang
            )
        )

    async def open_since(self, moment: datetime) -> list[tuple[str, datetime]]:
        """(reference, consent time) of the callback requests and appointments still open
        whose consent was given before `moment`, oldest first."""
        callbacks = await self._session.execute(
            select(CallbackRequest.reference, CallbackRequest.consent_at).where(
                CallbackRequest.status != RequestStatus.CLOSED,
                CallbackRequest.consent_at < moment,
                CallbackRequest.reference.is_not(None),
            )
        )
        appointments = await self._session.execute(
            select(Appointment.reference, Appointment.consent_at).where(
                Appointment.status.in_(OPEN_APPOINTMENTS),
                Appointment.consent_at < moment,
                Appointment.reference.is_not(None),
            )
        )
        rows = [(str(r), at) for r, at in (*callbacks, *appointments)]
        return sorted(rows, key=lambda row: row[1])

    async def _expire_open(self, cutoff: datetime) -> int:
        """Requests still open RETENTION_DAYS after consent (the consent text says so): closed
        or cancelled, their personal data and every message about them erased."""
        expired = [reference for reference, _ in await self.open_since(cutoff)]
        if not expired:
            return 0
        now = utcnow()
        await self._session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.reference.in_(expired))
            .values(
                status=RequestStatus.CLOSED,
                closed_at=now,
                phone=None,
                question=None,
                updated_at=now,
            )
        )
        await self._session.execute(
            update(Appointment)
            .where(Appointment.reference.in_(expired))
            .values(status=AppointmentStatus.CANCELLED, phone=None)
        )
        await self._session.execute(
            delete(OutboxMessage).where(OutboxMessage.reference.in_(expired))
        )
        await self._session.execute(delete(CaseNote).where(CaseNote.reference.in_(expired)))
        await self._session.execute(delete(CaseMessage).where(CaseMessage.reference.in_(expired)))
        return len(expired)

    async def purge(self, retention: timedelta, now: datetime | None = None) -> Purged:
        """Erase personal data older than the retention period; counts for reports stay."""
        cutoff = (now or utcnow()) - retention
        expired = await self._expire_open(cutoff)
        requests = await self._session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.status == RequestStatus.CLOSED,
                CallbackRequest.closed_at < cutoff,
                (CallbackRequest.phone.is_not(None)) | (CallbackRequest.question.is_not(None)),
            )
            .values(phone=None, question=None)
        )
        finished = await self._session.execute(
            update(Appointment)
            .where(
                Appointment.status.in_(FINISHED_APPOINTMENTS),
                Appointment.updated_at < cutoff,
                Appointment.phone.is_not(None),
            )
            .values(phone=None)
        )
        thread = await self._session.execute(
            delete(CaseMessage).where(CaseMessage.reference.in_(_finished_before(cutoff)))
        )
        questions = await self._session.execute(
            delete(UnansweredQuestion).where(UnansweredQuestion.created_at < cutoff)
        )
        messages = await self._session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.status != OutboxStatus.PENDING, OutboxMessage.created_at < cutoff
            )
        )
        conversations = await self._session.execute(
            delete(ConversationState).where(ConversationState.updated_at < cutoff)
        )
        await self._session.execute(delete(CaseNote).where(CaseNote.created_at < cutoff))
        await self._session.execute(
            delete(ProcessedUpdate).where(
                ProcessedUpdate.processed_at < (now or utcnow()) - UPDATE_MEMORY
            )
        )
        minute = int((now or utcnow()).timestamp() // 60)
        await self._session.execute(delete(RateLimit).where(RateLimit.window < minute - 1))
        return Purged(
            expired + rowcount(requests) + rowcount(finished),
            rowcount(questions),
            rowcount(messages) + rowcount(thread),
            rowcount(conversations),
        )


def _finished_before(cutoff: datetime) -> Any:
    """The references of requests closed, and appointments finished, before `cutoff`: their
    threads are erased with the rest of their personal data."""
    callbacks = select(CallbackRequest.reference).where(
        CallbackRequest.status == RequestStatus.CLOSED,
        CallbackRequest.closed_at < cutoff,
        CallbackRequest.reference.is_not(None),
    )
    appointments = select(Appointment.reference).where(
        Appointment.status.in_(FINISHED_APPOINTMENTS),
        Appointment.updated_at < cutoff,
        Appointment.reference.is_not(None),
    )
    return callbacks.union(appointments)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _request_row(r: CallbackRequest, consent_text: str | None) -> dict[str, Any]:
    return {
        "reference": r.reference,
        "status": r.status,
        "urgent": r.urgent,
        "language": r.lang,
        "topic": r.topic_id,
        "phone": r.phone,
        "preferred_time": r.preferred_time,
        "question": r.question,
        "consent_given": _iso(r.consent_at),
        "consent_text": consent_text,
        "created": _iso(r.created_at),
        "closed": _iso(r.closed_at),
        "rating": r.rating,
    }


def _appointment_row(a: Appointment) -> dict[str, Any]:
    return {
        "reference": a.reference,
        "status": a.status,
        "help": a.kind,
        "place": a.place,
        "office": a.office_id,
        "preferred_day": a.preferred_day.isoformat(),
        "part_of_day": a.part_of_day,
        "phone": a.phone,
        "starts_at": _iso(a.starts_at),
        "created": _iso(a.created_at),
    }


def _question_row(q: UnansweredQuestion) -> dict[str, Any]:
    return {"text": q.text, "language": q.lang, "reason": q.reason, "created": _iso(q.created_at)}


def _thread_row(m: CaseMessage) -> dict[str, Any]:
    return {
        "author": m.author,
        "text": m.text,
        "media_kind": m.media_kind,
        "media_ref": m.media_ref,
        "channel": m.channel,
        "created": _iso(m.created_at),
    }


def _message_row(m: OutboxMessage, user: User) -> dict[str, Any]:
    to_person = (m.channel, m.recipient) == (user.channel, user.external_id)
    return {
        "to": "person" if to_person else "caseworkers",
        "about": m.reference,
        "kind": m.body.get("key"),
        "text": m.body.get("text"),
        "status": m.status,
        "created": _iso(m.created_at),
    }
