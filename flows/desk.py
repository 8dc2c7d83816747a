"""The caseworkers' desk: claim, answer and close requests, from any staff channel.

Every action is one transaction. Messages to the migrant (in their language) and to the desk (in
the staff language) go through the outbox, so a failing channel delays them but never loses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Final

from flows import payloads as pl
from flows.calendar import PRAGUE, day_label, when_label
from flows.events import Button, scrub
from flows.payloads import Action
from flows.staff import STAFF_CHANNEL, STAFF_RECIPIENT, queue_for_staff, to_person
from storage.models import utcnow
from storage.references import normalized
from storage.repositories.threads import STAFF
from storage.states import AppointmentStatus, RequestStatus

if TYPE_CHECKING:
    from faq.offices import Office
    from locales import Locales, Translator
    from storage.dto import AppointmentDto, CallbackDto, StaffDto
    from storage.unit import Storage, Unit


@dataclass(frozen=True)
class DeskOutcome:
    """What the caseworker is told about their action."""

    ok: bool
    key: str
    text: str
    # The update was handled before (delivered again): nothing was done, nothing to say.
    repeated: bool = False
    # What the text was made with, to say it again in the words of another desk (`for_cli`).
    args: dict[str, object] = field(default_factory=dict)


REPEATED: Final = DeskOutcome(ok=True, key="", text="", repeated=True)
# How long before the end of retention the desk is told that an open request will be closed.
RETENTION_WARNING: Final = timedelta(days=7)


class Desk:
    def __init__(
        self,
        *,
        storage: Storage,
        locales: Locales,
        staff_lang: str,
        offices: dict[str, Office] | None = None,
        sla_minutes: int = 30,
        urgent_sla_minutes: int = 5,
    ) -> None:
        self._storage = storage
        self._sla = timedelta(minutes=sla_minutes)
        self._urgent_sla = timedelta(minutes=urgent_sla_minutes)
        self._locales = locales
        self._offices = offices or {}
        self._t: Translator = locales.get(staff_lang)

    def refusal(self) -> DeskOutcome:
        """What someone who is not a caseworker is told."""
        return self._outcome(False, "staff-not-staff")

    async def refuse(self, staff_id: str = "") -> DeskOutcome:
        """What someone who is not a caseworker is told; before any caseworker is added, how
        to add one."""
        async with self._storage.begin() as unit:
            return await self._refused(unit, staff_id)

    def for_cli(self, outcome: DeskOutcome) -> str:
        """The outcome's text for a caseworker at the terminal: where the Telegram text names a
        gesture or a chat command ("reply to the request message", "/confirm"), the words
        that name the `poradna queue` command instead."""
        key = f"{outcome.key}-cli"
        return self._t(key, **outcome.args) if key in self._t.strings else outcome.text

    @property
    def offices(self) -> dict[str, Office]:
        """The offices appointments are made at, by id."""
        return self._offices

    @property
    def t(self) -> Translator:
        """The staff language's strings."""
        return self._t

    async def reference_of_post(self, external_id: str) -> str | None:
        """The request that a message in the staff chat is about (to answer by replying)."""
        async with self._storage.begin() as unit:
            return await unit.outbox.reference_of(STAFF_CHANNEL, external_id)

    async def claim(
        self, channel: str, staff_id: str, reference: str, *, update_id: int | str | None = None
    ) -> DeskOutcome:
        reference = normalized(reference)
        async with self._storage.begin() as unit:
            if not await _first_time(unit, channel, update_id):
                return REPEATED
            staff, request, refusal = await self._check(unit, channel, staff_id, reference)
            if refusal:
                return refusal
            assert staff and request
            requests = unit.requests
            if not await requests.claim(reference, staff.id):
                return await self._taken(unit, await requests.get(reference))
            await self._claimed(unit, staff, request)
            return self._outcome(
                True, "staff-claimed", reference=reference, name=staff.name, staff=staff_id
            )

    async def reply(
        self,
        channel: str,
        staff_id: str,
        reference: str,
        text: str,
        *,
        update_id: int | str | None = None,
        via: str | None = None,
    ) -> DeskOutcome:
        """Send the caseworker's text to the person (claiming the request if nobody has), and
        keep it in the case thread, written `via` a desk (`cli`; default: `channel`). The text
        is cleaned of control characters like every person's input (`scrub`)."""
        text = scrub(text) or ""
        reference = normalized(reference)
        async with self._storage.begin() as unit:
            if not await _first_time(unit, channel, update_id):
                return REPEATED
            staff, request, refusal = await self._check(unit, channel, staff_id, reference)
            if refusal:
                return refusal
            assert staff and request
            requests = unit.requests
            if request.status == RequestStatus.NEW:
                if not await requests.claim(reference, staff.id):
                    return await self._taken(unit, await requests.get(reference))
                await self._claimed(unit, staff, request)
            elif request.claimed_by != staff.id:
                return await self._taken(unit, request, key="staff-not-yours")
            if not await requests.move(reference, RequestStatus.WAITING):
                return self._outcome(False, "staff-unknown-request", reference=reference)
            await to_person(unit, self._locales, request, "caseworker-message", text=text)
            await unit.threads.add(
                reference, STAFF, channel=via or channel, text=text, staff_id=staff.id
            )
            await requests.mark_responded(reference)
            return self._outcome(True, "staff-reply-sent", reference=reference)

    async def close(
        self, channel: str, staff_id: str, reference: str, *, update_id: int | str | None = None
    ) -> DeskOutcome:
        reference = normalized(reference)
        async with self._storage.begin() as unit:
            if not await _first_time(unit, channel, update_id):
                return REPEATED
            staff, request, refusal = await self._check(unit, channel, staff_id, reference)
            if refusal:
                return refusal
            assert staff and request
            if request.claimed_by not in (None, staff.id):
                return await self._taken(unit, request, key="staff-not-yours")
            if not await unit.requests.close(reference):
                return self._outcome(False, "staff-unknown-request", reference=reference)
            stars = tuple(Button("⭐" * n, pl.rating(reference, n)) for n in pl.STARS)
            await to_person(unit, self._locales, request, "case-closed", lambda _t: (stars,))
            await queue_for_staff(
                unit, self._t, "staff-closed", reference, reply_to=True, name=staff.name
            )
            return self._outcome(True, "staff-closed", reference=reference, name=staff.name)

    async def is_staff(self, channel: str, staff_id: str) -> bool:
        async with self._storage.begin() as unit:
            return await unit.staff.is_active(channel, staff_id)

    async def reference_in_chat(self, channel: str, chat: str, external_id: str) -> str | None:
        """The request a message in a caseworker's own chat is about."""
        async with self._storage.begin() as unit:
            return await unit.outbox.reference_of(channel, external_id, chat)

    async def remind_overdue(self, now: datetime | None = None) -> int:
        """Announce to everyone the requests nobody has claimed in time (SLA reminder)."""
        now = now or utcnow()
        async with self._storage.begin() as unit:
            requests = unit.requests
            overdue = await requests.overdue(now, self._sla, self._urgent_sla)
            outbox = unit.outbox
            for request in overdue:
                key = "staff-urgent-request" if request.urgent else "staff-new-request"
                body = await outbox.first_body(request.reference, key)
                if body is None:
                    continue
                minutes = int((now - request.created_at).total_seconds() // 60)
                waiting = self._t(
                    "staff-sla-reminder", reference=request.reference, minutes=minutes
                )
                body["text"] = f"{waiting}\n\n{body['text']}"
                await outbox.add(STAFF_CHANNEL, STAFF_RECIPIENT, body, reference=request.reference)
                await requests.mark_announced(request.reference)
        return len(overdue)

    async def warn_before_retention(
        self, retention: timedelta, now: datetime | None = None
    ) -> int:
        """Tell the desk, once, of each request still open that retention will close within
        RETENTION_WARNING (the consent's RETENTION_DAYS run from the person's consent)."""
        now = now or utcnow()
        ahead = min(RETENTION_WARNING, retention / 2)
        warned = 0
        async with self._storage.begin() as unit:
            outbox = unit.outbox
            for reference, consent_at in await unit.privacy.open_since(now - retention + ahead):
                if await outbox.first_body(reference, "staff-retention-warning") is not None:
                    continue
                closing = (consent_at + retention).astimezone(PRAGUE).date()
                await queue_for_staff(
                    unit,
                    self._t,
                    "staff-retention-warning",
                    reference,
                    reply_to=True,
                    days=retention.days,
                    date=day_label(closing, self._t.lang),
                )
                warned += 1
        return warned

    # ----------------------------------------------------------------- appointments

    async def confirm(
        self,
        channel: str,
        staff_id: str,
        reference: str,
        local_time: str,
        *,
        update_id: int | str | None = None,
    ) -> DeskOutcome:
        """Confirm (or move) an appointment to a date and time given in Prague time. The
        sender is checked before anything they typed is read. Confirmed again at the time it
        has, nothing new is sent."""
        async with self._storage.begin() as unit:
            staff = await unit.staff.find(channel, staff_id)
            if staff is None:
                return await self._refused(unit, staff_id)
            reference = normalized(reference)
            when = _prague_time(local_time)
            if when is None or when <= utcnow():
                return self._outcome(False, "staff-bad-time", reference=reference)
            if not await _first_time(unit, channel, update_id):
                return REPEATED
            before = await unit.appointments.get(reference)
            if (
                before is not None
                and before.status == AppointmentStatus.CONFIRMED
                and before.starts_at == when.astimezone(UTC)
            ):
                return self._outcome(
                    True,
                    "staff-appointment-unchanged",
                    reference=reference,
                    when=when_label(when, self._t.lang),
                )
            moved = await unit.appointments.move(
                reference,
                AppointmentStatus.CONFIRMED,
                starts_at=when.astimezone(UTC),
                reminded=False,
                handled_by=staff.id,
            )
            appointment = await unit.appointments.get(reference)
            if not moved or appointment is None:
                return self._outcome(False, "staff-unknown-request", reference=reference)
            await self._confirmed(unit, staff, appointment, when)
            return self._outcome(
                True,
                "staff-appointment-confirmed",
                reference=reference,
                when=when_label(when, self._t.lang),
                name=staff.name,
            )

    async def _confirmed(
        self, unit: Unit, staff: StaffDto, appointment: AppointmentDto, when: datetime
    ) -> None:
        """Tell the person (with a button to cancel) and the desk."""
        reference = appointment.reference
        office = self._offices.get(appointment.office_id)

        def cancel_button(t: Translator) -> tuple[tuple[Button, ...], ...]:
            label = t("buttons-cancel-appointment")
            return ((Button(label, pl.make(Action.CANCEL_APPOINTMENT, reference)),),)

        await to_person(
            unit,
            self._locales,
            appointment,
            "appointment-confirmed",
            cancel_button,
            when=when,
            office=office.name if office else appointment.office_id,
            address=office.address if office else "",
        )
        await queue_for_staff(
            unit,
            self._t,
            "staff-appointment-confirmed",
            reference,
            reply_to=True,
            when=when_label(when, self._t.lang),
            name=staff.name,
        )

    async def settle(
        self,
        channel: str,
        staff_id: str,
        reference: str,
        status: AppointmentStatus,
        *,
        update_id: int | str | None = None,
    ) -> DeskOutcome:
        """Mark an appointment done, a no-show, or cancelled by the organisation."""
        reference = normalized(reference)
        async with self._storage.begin() as unit:
            if await unit.staff.find(channel, staff_id) is None:
                return await self._refused(unit, staff_id)
            if not await _first_time(unit, channel, update_id):
                return REPEATED
            repo = unit.appointments
            if not await repo.move(reference, status):
                return self._outcome(False, "staff-unknown-request", reference=reference)
            appointment = await repo.get(reference)
            if status == AppointmentStatus.CANCELLED and appointment is not None:
                await to_person(unit, self._locales, appointment, "appointment-cancelled-by-staff")
            return self._outcome(
                True,
                "staff-appointment-updated",
                reference=reference,
                status=self._t(f"staff-status-{status}"),
            )

    async def send_reminders(self, now: datetime | None = None) -> int:
        """Remind people of tomorrow's appointments (Prague time), once each."""
        local = (now or utcnow()).astimezone(PRAGUE)
        start = datetime.combine(local.date() + timedelta(days=1), time.min, PRAGUE)
        end = start + timedelta(days=1)
        async with self._storage.begin() as unit:
            repo = unit.appointments
            due = await repo.due_reminders(start, end)
            for appointment in due:
                office = self._offices.get(appointment.office_id)
                assert appointment.starts_at is not None
                await to_person(
                    unit,
                    self._locales,
                    appointment,
                    "appointment-reminder",
                    when=appointment.starts_at,
                    office=office.name if office else appointment.office_id,
                    address=office.address if office else "",
                )
                await repo.mark_reminded(appointment.reference)
        return len(due)

    # ----------------------------------------------------------------- helpers

    async def _check(
        self, unit: Unit, channel: str, staff_id: str, reference: str
    ) -> tuple[StaffDto | None, CallbackDto | None, DeskOutcome | None]:
        staff = await unit.staff.find(channel, staff_id)
        if staff is None:
            return None, None, await self._refused(unit, staff_id)
        request = await unit.requests.get(reference)
        if request is None or request.status == RequestStatus.CLOSED:
            return staff, None, self._outcome(False, "staff-unknown-request", reference=reference)
        return staff, request, None

    async def _claimed(self, unit: Unit, staff: StaffDto, request: CallbackDto) -> None:
        await queue_for_staff(
            unit, self._t, "staff-claimed", request.reference, reply_to=True, name=staff.name
        )
        await to_person(unit, self._locales, request, "case-claimed")

    async def _taken(
        self,
        unit: Unit,
        request: CallbackDto | None,
        key: str = "staff-claimed-by-other",
    ) -> DeskOutcome:
        if request is None or request.claimed_by is None:
            reference = request.reference if request else "?"
            return self._outcome(False, "staff-unknown-request", reference=reference)
        holder = await unit.staff.get(request.claimed_by)
        return self._outcome(
            False, key, reference=request.reference, name=holder.name if holder else "?"
        )

    async def _refused(self, unit: Unit, staff_id: str) -> DeskOutcome:
        """Not a caseworker; before anyone was made one (`poradna staff add`), how to."""
        if await unit.staff.list_staff():
            return self._outcome(False, "staff-not-staff", staff=staff_id)
        return self._outcome(False, "staff-none-yet", staff=staff_id)

    def _outcome(self, ok: bool, key: str, **args: object) -> DeskOutcome:
        return DeskOutcome(ok=ok, key=key, text=self._t(key, **args), args=args)


async def _first_time(unit: Unit, channel: str, update_id: int | str | None) -> bool:
    """Record the channel's update in the action's own transaction: False when it was done
    before (Telegram delivering it again after the answer to the caseworker failed, or after
    the process died before the update was marked), so no action is done twice."""
    if update_id is None:
        return True
    return await unit.updates.first_time(channel, update_id)


def _prague_time(local_time: str) -> datetime | None:
    """A date and time a caseworker typed (``2026-12-24 09:30``, Prague time), or None."""
    try:
        return datetime.strptime(local_time.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=PRAGUE)
    except ValueError:
        return None
