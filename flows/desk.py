"""The caseworkers' desk: claim, answer and close requests, from any staff channel.

Every action is one transaction. Messages to the migrant (in their language) and to the desk (in
the staff language) go through the outbox, so a failing channel delays them but never loses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flows import payloads as pl
from flows.engine import STAFF_CHANNEL, queue_for_staff
from flows.events import Button, Reply
from storage import states
from storage.repositories import (
    CallbackRepository,
    OutboxRepository,
    StaffRepository,
    UserRepository,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from locales import Locales, Translator
    from storage.dto import CallbackDto, StaffDto


@dataclass(frozen=True)
class DeskOutcome:
    """What the caseworker is told about their action."""

    ok: bool
    key: str
    text: str


class Desk:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        locales: Locales,
        staff_lang: str,
    ) -> None:
        self._sessions = sessions
        self._locales = locales
        self._t: Translator = locales.get(staff_lang)

    @property
    def t(self) -> Translator:
        """The staff language's strings."""
        return self._t

    async def reference_of_post(self, external_id: str) -> str | None:
        """The request that a message in the staff chat is about (to answer by replying)."""
        async with self._sessions() as session:
            return await OutboxRepository(session).reference_of(STAFF_CHANNEL, external_id)

    async def claim(self, channel: str, staff_id: str, reference: str) -> DeskOutcome:
        async with self._sessions() as session, session.begin():
            staff, request, refusal = await self._check(session, channel, staff_id, reference)
            if refusal:
                return refusal
            assert staff and request
            requests = CallbackRepository(session)
            if not await requests.claim(reference, staff.id):
                return await self._taken(session, await requests.get(reference))
            await self._claimed(session, staff, request)
            return self._outcome(True, "staff-claimed", reference=reference, name=staff.name)

    async def reply(self, channel: str, staff_id: str, reference: str, text: str) -> DeskOutcome:
        """Send the caseworker's text to the person (claiming the request if nobody has)."""
        async with self._sessions() as session, session.begin():
            staff, request, refusal = await self._check(session, channel, staff_id, reference)
            if refusal:
                return refusal
            assert staff and request
            requests = CallbackRepository(session)
            if request.status == states.NEW:
                if not await requests.claim(reference, staff.id):
                    return await self._taken(session, await requests.get(reference))
                await self._claimed(session, staff, request)
            elif request.claimed_by != staff.id:
                return await self._taken(session, request, key="staff-not-yours")
            if not await requests.move(reference, states.WAITING):
                return self._outcome(False, "staff-unknown-request", reference=reference)
            await self._to_person(session, request, "caseworker-message", text=text)
            await requests.mark_responded(reference)
            return self._outcome(True, "staff-reply-sent", reference=reference)

    async def close(self, channel: str, staff_id: str, reference: str) -> DeskOutcome:
        async with self._sessions() as session, session.begin():
            staff, request, refusal = await self._check(session, channel, staff_id, reference)
            if refusal:
                return refusal
            assert staff and request
            if request.claimed_by not in (None, staff.id):
                return await self._taken(session, request, key="staff-not-yours")
            if not await CallbackRepository(session).close(reference):
                return self._outcome(False, "staff-unknown-request", reference=reference)
            stars = tuple(
                Button("⭐" * n, pl.make(pl.RATE, f"{reference}:{n}")) for n in range(1, 6)
            )
            await self._to_person(session, request, "case-closed", buttons=(stars,))
            await queue_for_staff(
                session, self._t, "staff-closed", reference, reply_to=True, name=staff.name
            )
            return self._outcome(True, "staff-closed", reference=reference, name=staff.name)

    # ----------------------------------------------------------------- helpers

    async def _check(
        self, session: AsyncSession, channel: str, staff_id: str, reference: str
    ) -> tuple[StaffDto | None, CallbackDto | None, DeskOutcome | None]:
        staff = await StaffRepository(session).find(channel, staff_id)
        if staff is None:
            return None, None, self._outcome(False, "staff-not-staff")
        request = await CallbackRepository(session).get(reference)
        if request is None or request.status == states.CLOSED:
            return staff, None, self._outcome(False, "staff-unknown-request", reference=reference)
        return staff, request, None

    async def _claimed(self, session: AsyncSession, staff: StaffDto, request: CallbackDto) -> None:
        await queue_for_staff(
            session, self._t, "staff-claimed", request.reference, reply_to=True, name=staff.name
        )
        await self._to_person(session, request, "case-claimed")

    async def _taken(
        self,
        session: AsyncSession,
        request: CallbackDto | None,
        key: str = "staff-claimed-by-other",
    ) -> DeskOutcome:
        if request is None or request.claimed_by is None:
            reference = request.reference if request else "?"
            return self._outcome(False, "staff-unknown-request", reference=reference)
        holder = await StaffRepository(session).get(request.claimed_by)
        return self._outcome(
            False, key, reference=request.reference, name=holder.name if holder else "?"
        )

    async def _to_person(
        self,
        session: AsyncSession,
        request: CallbackDto,
        key: str,
        buttons: tuple[tuple[Button, ...], ...] = (),
        **args: object,
    ) -> None:
        if request.user_id is None:
            return  # the person asked to be forgotten
        user = await UserRepository(session).get(request.user_id)
        if user is None:
            return
        t = self._locales.get(user.lang or request.lang)
        reply = Reply(
            key=key,
            text=t(key, reference=request.reference, **args),
            lang=t.lang,
            rtl=t.rtl,
            buttons=buttons,
        )
        await OutboxRepository(session).add(
            user.channel, user.external_id, reply.to_body(), reference=request.reference
        )

    def _outcome(self, ok: bool, key: str, **args: object) -> DeskOutcome:
        return DeskOutcome(ok=ok, key=key, text=self._t(key, **args))
