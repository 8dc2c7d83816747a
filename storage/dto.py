"""Plain data returned by the repositories: flows never see ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from storage.states import AppointmentStatus, OutboxStatus, RequestStatus


@dataclass(frozen=True)
class UserDto:
    id: int
    channel: str
    external_id: str
    lang: str | None
    switch_offered: bool
    person_key: str = ""


@dataclass(frozen=True)
class StateDto:
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    # The reference of the person's open case (claimed, not closed), when `StateRepository.open`
    # read it: their text goes to its caseworker.
    open_case: str | None = None


@dataclass(frozen=True)
class CallbackDto:
    id: int
    reference: str
    status: RequestStatus
    lang: str
    topic_id: str | None
    phone: str | None
    preferred_time: str
    question: str | None
    created_at: datetime
    urgent: bool = False
    user_id: int | None = None
    claimed_by: int | None = None
    claimed_at: datetime | None = None
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    rating: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "status": self.status,
            "urgent": self.urgent,
            "lang": self.lang,
            "topic": self.topic_id,
            "preferred_time": self.preferred_time,
            "created": self.created_at.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True)
class StaffDto:
    id: int
    channel: str
    external_id: str
    name: str
    languages: tuple[str, ...]
    active: bool
    login: str | None = None
    role: str = "caseworker"


@dataclass(frozen=True)
class OutboxDto:
    id: int
    channel: str
    recipient: str
    body: dict[str, Any]
    reference: str | None
    attempts: int
    status: OutboxStatus = OutboxStatus.PENDING
    external_id: str | None = None


@dataclass(frozen=True)
class AppointmentDto:
    id: int
    reference: str
    status: AppointmentStatus
    lang: str
    kind: str
    place: str | None
    office_id: str
    preferred_day: date
    part_of_day: str
    phone: str | None
    starts_at: datetime | None
    user_id: int | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "kind": "appointment",
            "status": self.status,
            "lang": self.lang,
            "help": self.kind,
            "place": self.place,
            "office": self.office_id,
            "preferred_day": self.preferred_day.isoformat(),
            "part_of_day": self.part_of_day,
            "starts_at": self.starts_at.isoformat(timespec="minutes") if self.starts_at else None,
            "created": self.created_at.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True)
class SessionDto:
    """A web console session and the caseworker it belongs to (active ones only)."""

    staff: StaffDto
    csrf: str
    created_at: datetime
    seen_at: datetime


@dataclass(frozen=True)
class NoteDto:
    reference: str
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class AuditDto:
    reference: str
    author: str
    action: str
    created_at: datetime


@dataclass(frozen=True)
class CannedDto:
    name: str
    lang: str
    title: str
    text: str


@dataclass(frozen=True)
class QueueRowDto:
    """One line of the console's queue: a callback request or an appointment request."""

    reference: str
    kind: str  # "callback" or "appointment"
    status: str
    urgent: bool
    lang: str
    about: str | None  # the topic of a callback, the kind of help of an appointment
    channel: str | None  # None: the person asked to be forgotten
    created_at: datetime
    claimed_by: str | None = None


@dataclass(frozen=True)
class ThreadEntryDto:
    """One message of a request's thread (`unit.threads`), newest last. A photo or document is
    only its channel's file id (`media_ref`; None where the channel has no file, the console)."""

    reference: str
    author: str  # "person" or "staff"
    text: str | None
    channel: str
    created_at: datetime
    staff_id: int | None = None
    media_kind: str | None = None
    media_ref: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "author": self.author,
            "staff_id": self.staff_id,
            "text": self.text,
            "media_kind": self.media_kind,
            "media_ref": self.media_ref,
            "channel": self.channel,
            "created": self.created_at.isoformat(timespec="seconds"),
        }
