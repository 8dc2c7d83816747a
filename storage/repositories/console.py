"""What the web console stores: logins and sessions, case notes, the audit of who opened which
case, canned replies, and the queue as the console lists it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from sqlalchemy import delete, select, update

from storage.dto import AuditDto, CannedDto, NoteDto, QueueRowDto, SessionDto, StaffDto
from storage.models import (
    Appointment,
    CallbackRequest,
    CannedReply,
    CaseAudit,
    CaseNote,
    Staff,
    StaffSession,
    User,
    utcnow,
)
from storage.repositories._base import rowcount
from storage.repositories.staff import staff_dto

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.unit import Unit

WEB_CHANNEL = "web"


# A web console session ends after this long without a request, or this long after login.
SESSION_IDLE: Final = timedelta(hours=12)
SESSION_LIFETIME: Final = timedelta(days=7)


class _OnSession:
    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    @property
    def _session(self) -> AsyncSession:
        return self._unit.orm()


class AccountRepository(_OnSession):
    """Logins, password hashes, roles and sessions of the web console."""

    async def set_login(
        self,
        name: str,
        login: str,
        role: str,
        languages: tuple[str, ...] = (),
        telegram_id: str | None = None,
    ) -> StaffDto:
        """Give a caseworker a login (a Telegram caseworker's row when `telegram_id` is given,
        else a web-only one), active, with `role`."""
        row = await self._session.scalar(select(Staff).where(Staff.login == login))
        if row is None and telegram_id is not None:
            row = await self._session.scalar(
                select(Staff).where(Staff.channel == "telegram", Staff.external_id == telegram_id)
            )
        if row is None:
            channel, external = ("telegram", telegram_id) if telegram_id else (WEB_CHANNEL, login)
            row = Staff(channel=channel, external_id=external)
            self._session.add(row)
        row.name, row.languages, row.active = name, ",".join(languages), True
        row.login, row.role = login, role
        await self._session.flush()
        return staff_dto(row)

    async def set_password(self, login: str, password_hash: str) -> bool:
        result = await self._session.execute(
            update(Staff).where(Staff.login == login).values(password_hash=password_hash)
        )
        await self.end_sessions_of_login(login)
        return rowcount(result) == 1

    async def credentials(self, login: str) -> tuple[StaffDto, str] | None:
        """An active caseworker's record and password hash, by login."""
        row = await self._session.scalar(select(Staff).where(Staff.login == login, Staff.active))
        if row is None or row.password_hash is None:
            return None
        return staff_dto(row), row.password_hash

    async def staff_by_login(self, login: str) -> StaffDto | None:
        row = await self._session.scalar(select(Staff).where(Staff.login == login))
        return staff_dto(row) if row else None

    async def all_staff(self) -> list[StaffDto]:
        """Everyone, active or not, for the admins' page."""
        rows = await self._session.scalars(select(Staff).order_by(Staff.id))
        return [staff_dto(r) for r in rows]

    async def set_active(self, staff_id: int, active: bool) -> bool:
        result = await self._session.execute(
            update(Staff).where(Staff.id == staff_id).values(active=active)
        )
        if not active:
            await self._session.execute(
                delete(StaffSession).where(StaffSession.staff_id == staff_id)
            )
        return rowcount(result) == 1

    async def set_role(self, staff_id: int, role: str) -> bool:
        result = await self._session.execute(
            update(Staff).where(Staff.id == staff_id).values(role=role)
        )
        return rowcount(result) == 1

    async def open_session(self, staff_id: int, token_hash: str, csrf: str) -> None:
        self._session.add(StaffSession(token_hash=token_hash, staff_id=staff_id, csrf=csrf))
        await self._session.flush()

    async def session(self, token_hash: str) -> SessionDto | None:
        """The session with this token of an active caseworker (a deactivated one has none)."""
        found = (
            await self._session.execute(
                select(StaffSession, Staff)
                .join(Staff, Staff.id == StaffSession.staff_id)
                .where(StaffSession.token_hash == token_hash, Staff.active)
            )
        ).first()
        if found is None:
            return None
        session, staff = found
        return SessionDto(
            staff=staff_dto(staff),
            csrf=session.csrf,
            created_at=session.created_at,
            seen_at=session.seen_at,
        )

    async def touch(self, token_hash: str) -> None:
        await self._session.execute(
            update(StaffSession)
            .where(StaffSession.token_hash == token_hash)
            .values(seen_at=utcnow())
        )

    async def end_session(self, token_hash: str) -> None:
        await self._session.execute(
            delete(StaffSession).where(StaffSession.token_hash == token_hash)
        )

    async def end_sessions_of_login(self, login: str) -> None:
        staff_id = await self._session.scalar(select(Staff.id).where(Staff.login == login))
        if staff_id is not None:
            await self._session.execute(
                delete(StaffSession).where(StaffSession.staff_id == staff_id)
            )

    async def end_expired(self, now: datetime) -> int:
        """Delete the sessions idle SESSION_IDLE or older than SESSION_LIFETIME."""
        return await self.end_stale(now - SESSION_IDLE, now - SESSION_LIFETIME)

    async def end_stale(self, idle_since: datetime, started_before: datetime) -> int:
        result = await self._session.execute(
            delete(StaffSession).where(
                (StaffSession.seen_at < idle_since) | (StaffSession.created_at < started_before)
            )
        )
        return rowcount(result)


class NoteRepository(_OnSession):
    """Internal notes on a case (personal data: erased with the case, see storage/privacy)."""

    async def add(self, reference: str, staff_id: int, text: str) -> None:
        self._session.add(CaseNote(reference=reference, staff_id=staff_id, text=text))
        await self._session.flush()

    async def of(self, reference: str) -> list[NoteDto]:
        rows = await self._session.execute(
            select(CaseNote, Staff.name)
            .outerjoin(Staff, Staff.id == CaseNote.staff_id)
            .where(CaseNote.reference == reference)
            .order_by(CaseNote.id)
        )
        return [NoteDto(n.reference, name or "?", n.text, n.created_at) for n, name in rows]


class AuditRepository(_OnSession):
    """Who opened which case (pages that show a phone number), and when."""

    async def record(self, reference: str, staff_id: int, action: str) -> None:
        self._session.add(CaseAudit(reference=reference, staff_id=staff_id, action=action))
        await self._session.flush()

    async def of(self, reference: str) -> list[AuditDto]:
        rows = await self._session.execute(
            select(CaseAudit, Staff.name)
            .outerjoin(Staff, Staff.id == CaseAudit.staff_id)
            .where(CaseAudit.reference == reference)
            .order_by(CaseAudit.id)
        )
        return [AuditDto(a.reference, name or "?", a.action, a.created_at) for a, name in rows]


class CannedRepository(_OnSession):
    """Canned replies: one text per name and language, edited by coordinators."""

    async def all(self) -> list[CannedDto]:
        rows = await self._session.scalars(
            select(CannedReply).order_by(CannedReply.name, CannedReply.lang)
        )
        return [CannedDto(r.name, r.lang, r.title, r.text) for r in rows]

    async def save(self, name: str, lang: str, title: str, text: str) -> None:
        row = await self._session.scalar(
            select(CannedReply).where(CannedReply.name == name, CannedReply.lang == lang)
        )
        if row is None:
            row = CannedReply(name=name, lang=lang)
            self._session.add(row)
        row.title, row.text = title, text
        await self._session.flush()

    async def remove(self, name: str, lang: str) -> bool:
        result = await self._session.execute(
            delete(CannedReply).where(CannedReply.name == name, CannedReply.lang == lang)
        )
        return rowcount(result) == 1


class QueueRepository(_OnSession):
    """The queue as the console lists it: both kinds of request, with the person's channel."""

    async def rows(self) -> list[QueueRowDto]:
        callbacks = await self._session.execute(
            select(CallbackRequest, User.channel, Staff.name)
            .outerjoin(User, User.id == CallbackRequest.user_id)
            .outerjoin(Staff, Staff.id == CallbackRequest.claimed_by)
            .where(CallbackRequest.reference.is_not(None))
        )
        appointments = await self._session.execute(
            select(Appointment, User.channel, Staff.name)
            .outerjoin(User, User.id == Appointment.user_id)
            .outerjoin(Staff, Staff.id == Appointment.handled_by)
            .where(Appointment.reference.is_not(None))
        )
        rows = [
            QueueRowDto(
                reference=str(r.reference),
                kind="callback",
                status=r.status,
                urgent=r.urgent,
                lang=r.lang,
                about=r.topic_id,
                channel=channel,
                created_at=r.created_at,
                claimed_by=name,
            )
            for r, channel, name in callbacks
        ]
        rows += [
            QueueRowDto(
                reference=str(a.reference),
                kind="appointment",
                status=a.status,
                urgent=False,
                lang=a.lang,
                about=a.kind,
                channel=channel,
                created_at=a.created_at,
                claimed_by=name,
            )
            for a, channel, name in appointments
        ]
        # Urgent first, then the oldest.
        return sorted(rows, key=lambda row: (not row.urgent, row.created_at))

    async def person_of(self, user_id: int | None) -> tuple[str, str, str | None] | None:
        """(channel, external id, language) of a request's person, or None when forgotten."""
        if user_id is None:
            return None
        row = (
            await self._session.execute(
                select(User.channel, User.external_id, User.lang).where(User.id == user_id)
            )
        ).first()
        return (row[0], row[1], row[2]) if row else None
