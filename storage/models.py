"""Database tables. The schema itself is created by the Alembic migrations in `migrations/`."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.states import AppointmentStatus, OutboxStatus, RequestStatus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset by itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Channel ids (users, staff, recipients, message and update ids): Meta's run to ~130 characters.
ID_LENGTH = 160


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class User(Base):
    """A person talking to the bot on one channel."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    # Wide enough for every channel's ids (Telegram's numbers, Messenger's page-scoped ids).
    external_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    lang: Mapped[str | None] = mapped_column(String(8))
    switch_offered: Mapped[bool] = mapped_column(default=False)
    # A random key that stands for the person in anonymous statistics; it survives erasure.
    person_key: Mapped[str] = mapped_column(String(36), default=lambda: str(uuid.uuid4()))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConversationState(Base):
    """Where a user is in a conversation; `version` guards against concurrent writes."""

    __tablename__ = "conversation_states"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CallbackRequest(Base):
    """A migrant's request to be called back by a caseworker."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(16), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(24), default=RequestStatus.NEW, index=True)
    urgent: Mapped[bool] = mapped_column(default=False, index=True)
    lang: Mapped[str] = mapped_column(String(8))
    topic_id: Mapped[str | None] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(32))
    preferred_time: Mapped[str] = mapped_column(String(16))
    question: Mapped[str | None] = mapped_column(Text)
    consent_at: Mapped[datetime]
    consent_version: Mapped[str | None] = mapped_column(String(16))
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    rating: Mapped[int | None]
    # Last time the request was posted for every caseworker (None: only those who speak its
    # language have been told so far).
    announced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UnansweredQuestion(Base):
    """A question the FAQ could not answer (or whose answer did not help): for coordinators."""

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(16))
    best_topic: Mapped[str | None] = mapped_column(String(40))
    best_score: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Staff(Base):
    """A caseworker who may claim, answer and close requests."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(64))
    languages: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The web console: a login and an argon2 hash of the password (None: no web access yet),
    # and the role (caseworker, coordinator, admin).
    login: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(
        String(16), default="caseworker", server_default="caseworker"
    )


class StaffSession(Base):
    """A web console session: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseNote(Base):
    """A caseworker's internal note on a request: never shown to the person."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseAudit(Base):
    """Who opened (or acted on) which case, and when: no personal data of the person."""

    __tablename__ = "case_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CannedReply(Base):
    """A ready answer a caseworker picks by name ("documents-checklist"), one row a language."""

    __tablename__ = "canned_replies"
    __table_args__ = (UniqueConstraint("name", "lang"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    lang: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboxMessage(Base):
    """A message waiting to be delivered (or delivered): retried until the channel takes it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    recipient: Mapped[str] = mapped_column(String(ID_LENGTH))
    body: Mapped[dict[str, Any]]
    reference: Mapped[str | None] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(12), default=OutboxStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The channel's id of the sent message (Messenger's ``m_…`` ids run to about 130 characters).
    external_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class CaseMessage(Base):
    """One message of a request's thread: the person's (text, or a photo or document kept as
    the channel's file id only) or a caseworker's. Erased with the request's personal data."""

    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), index=True)
    author: Mapped[str] = mapped_column(String(8))  # "person" or "staff"
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    text: Mapped[str | None] = mapped_column(Text)
    media_kind: Mapped[str | None] = mapped_column(String(16))
    media_ref: Mapped[str | None] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateLimit(Base):
    """How many events one sender made in the current minute, for a flood limit that holds
    across instances (`key`: channel and sender; `window`: the minute, as a number)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int]


class ProcessedUpdate(Base):
    """A channel update already handled: a redelivered one is skipped. `update_id` is the
    channel's id as text: Telegram's update_id, Messenger's message id (``m_…``)."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentText(Base):
    """Each version of the consent text a person agreed to, per language."""

    __tablename__ = "consent_texts"

    version: Mapped[str] = mapped_column(String(16), primary_key=True)
    lang: Mapped[str] = mapped_column(String(8), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Interaction(Base):
    """One thing the service did for a person, without personal data: for funders' reports."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_key: Mapped[str] = mapped_column(String(36), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(48), index=True)
    topic: Mapped[str | None] = mapped_column(String(40))
    lang: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Appointment(Base):
    """A request for a consultation, interpreting or accompaniment at a given office."""

    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(16), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(
        String(16), default=AppointmentStatus.REQUESTED, index=True
    )
    lang: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(24))
    place: Mapped[str | None] = mapped_column(String(16))
    office_id: Mapped[str] = mapped_column(String(30))
    preferred_day: Mapped[date] = mapped_column(Date)
    part_of_day: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(32))
    starts_at: Mapped[datetime | None]
    reminded: Mapped[bool] = mapped_column(default=False)
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    consent_at: Mapped[datetime]
    consent_version: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
