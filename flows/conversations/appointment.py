"""An appointment request: what help, where (for accompaniment), which office, which day and
part of day; then the phone and consent steps of `callback`, and it is stored. A confirmed
appointment can be cancelled by the person from its message."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from faq.offices import KINDS, PLACES
from flows import payloads as pl
from flows.calendar import day_label, today_in_prague, working_days
from flows.events import Button
from flows.payloads import Action, ForgedPayloadError, Payload
from flows.registry import REGISTRY, StepSpec, prompt_of, show_again
from flows.staff import Media, announce_appointment, queue_for_staff
from flows.state import APPOINTMENT, Step
from storage.models import utcnow
from storage.states import AppointmentStatus

if TYPE_CHECKING:
    from flows.turn import Turn

logger = logging.getLogger(__name__)


def ask_kind(turn: Turn) -> None:
    turn.step = Step.AP_KIND
    rows = [
        [Button(turn.t(f"appointment-kind-{kind}"), pl.make(Action.KIND, kind))] for kind in KINDS
    ]
    rows.append([turn.cancel_button()])
    turn.say("appointment-kind", rows)


def ask_place(turn: Turn) -> None:
    turn.step = Step.AP_PLACE
    rows = [
        [Button(turn.t(f"appointment-place-{place}"), pl.make(Action.PLACE, place))]
        for place in PLACES
    ]
    rows.append([turn.cancel_button()])
    turn.say("appointment-place", rows)


def offices_for(turn: Turn) -> list[str]:
    """Offices offering the chosen help, those serving the person's language first."""
    kind = turn.draft.request.ap_kind or ""
    offering = [o for o in turn.services.offices.values() if o.serves(kind)]
    in_language = [o.id for o in offering if turn.lang in o.languages]
    return in_language or [o.id for o in offering]


def ask_office(turn: Turn) -> None:
    offices = offices_for(turn)
    if not offices:
        turn.drop_request()
        turn.step = Step.MENU
        turn.say("appointment-no-office", [[turn.person_button()], [turn.menu_button()]])
        return
    if len(offices) == 1:
        turn.draft.request.ap_office = offices[0]
        ask_day(turn)
        return
    turn.step = Step.AP_OFFICE
    named = turn.services.offices
    rows = [[Button(named[o].name, pl.make(Action.OFFICE, o))] for o in offices]
    rows.append([turn.cancel_button()])
    turn.say("appointment-office", rows)


def days() -> list[str]:
    return [d.isoformat() for d in working_days(today_in_prague(utcnow()))]


def ask_day(turn: Turn) -> None:
    turn.step = Step.AP_DAY
    choices = [date.fromisoformat(d) for d in days()]
    buttons = [
        Button(day_label(d, turn.lang), pl.make(Action.DAY, d.isoformat())) for d in choices
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([turn.cancel_button()])
    turn.say("appointment-day", rows)


def ask_part(turn: Turn) -> None:
    turn.step = Step.AP_PART
    rows = [
        [Button(turn.t(f"callback-time-{part}"), pl.make(Action.PART, part))] for part in pl.PARTS
    ]
    rows.append([turn.cancel_button()])
    turn.say("appointment-part", rows)


@REGISTRY.button(Action.APPOINTMENT)
async def on_appointment(turn: Turn, p: Payload) -> None:
    if p.value is not None:
        raise ForgedPayloadError(p.encode())
    media = turn.draft.request.media  # photos sent before: kept for this request too
    turn.drop_request()
    turn.draft.request.media = media
    ask_kind(turn)


async def _on_kind(turn: Turn, p: Payload) -> None:
    if p.value not in KINDS:
        raise ForgedPayloadError(p.encode())
    turn.draft.request.ap_kind = p.value
    if p.value == "accompaniment":
        ask_place(turn)
    else:
        ask_office(turn)


async def _on_place(turn: Turn, p: Payload) -> None:
    if p.value not in PLACES:
        raise ForgedPayloadError(p.encode())
    turn.draft.request.ap_place = p.value
    ask_office(turn)


async def _on_office(turn: Turn, p: Payload) -> None:
    if p.value not in offices_for(turn):
        raise ForgedPayloadError(p.encode())
    turn.draft.request.ap_office = p.value
    ask_day(turn)


async def _on_day(turn: Turn, p: Payload) -> None:
    if p.value not in days():
        raise ForgedPayloadError(p.encode())
    turn.draft.request.ap_day = p.value
    ask_part(turn)


async def _on_part(turn: Turn, p: Payload) -> None:
    if p.value not in pl.PARTS:
        raise ForgedPayloadError(p.encode())
    turn.draft.request.ap_part = p.value
    turn.draft.request.request_kind = APPOINTMENT
    await REGISTRY.enter(turn, Step.CB_PHONE)


async def store(turn: Turn, consent_version: str) -> None:
    """The person agreed: store the appointment request and tell the desk."""
    draft = turn.draft.request
    assert draft.ap_kind and draft.ap_office and draft.ap_day and draft.ap_part and draft.phone
    appointment = await turn.unit.appointments.create(
        user_id=turn.user.id,
        lang=turn.draft.written or turn.lang,  # routed by the language the person writes in
        kind=draft.ap_kind,
        place=draft.ap_place,
        office_id=draft.ap_office,
        preferred_day=date.fromisoformat(draft.ap_day),
        part_of_day=draft.ap_part,
        phone=draft.phone,
        consent_at=utcnow(),
        consent_version=consent_version,
    )
    logger.info("appointment request %s stored (%s)", appointment.reference, turn.lang)
    await turn.record(f"appointment:{appointment.kind}")
    services = turn.services
    office = services.offices[appointment.office_id]
    await announce_appointment(
        turn.unit,
        services.staff_t,
        services.locales,
        office,
        appointment,
        Media.kept(draft.media),
    )
    turn.drop_request()
    turn.step = Step.MENU
    turn.say(
        "appointment-requested",
        [[turn.menu_button()]],
        reference=appointment.reference,
        kind=turn.t(f"appointment-kind-{appointment.kind}"),
        office=office.name,
        day=day_label(appointment.preferred_day, turn.lang),
        part=turn.t(f"callback-time-{appointment.part_of_day}"),
    )


@REGISTRY.button(Action.CANCEL_APPOINTMENT)
async def on_cancel_appointment(turn: Turn, p: Payload) -> None:
    reference = p.value
    if not reference:
        raise ForgedPayloadError(p.encode())
    repo = turn.unit.appointments
    appointment = await repo.get(reference)
    if appointment is None or appointment.user_id != turn.user.id:
        raise ForgedPayloadError(reference)
    if not await repo.move(reference, AppointmentStatus.CANCELLED):
        raise ForgedPayloadError(reference)
    await queue_for_staff(
        turn.unit, turn.services.staff_t, "staff-appointment-cancelled", reference, reply_to=True
    )
    turn.say("appointment-cancelled", [[turn.menu_button()]], reference=reference)


REGISTRY.declare(
    Step.AP_KIND,
    StepSpec(prompt=prompt_of(ask_kind), on_text=show_again, buttons={Action.KIND: _on_kind}),
)
REGISTRY.declare(
    Step.AP_PLACE,
    StepSpec(prompt=prompt_of(ask_place), on_text=show_again, buttons={Action.PLACE: _on_place}),
)
REGISTRY.declare(
    Step.AP_OFFICE,
    StepSpec(
        prompt=prompt_of(ask_office), on_text=show_again, buttons={Action.OFFICE: _on_office}
    ),
)
REGISTRY.declare(
    Step.AP_DAY,
    StepSpec(prompt=prompt_of(ask_day), on_text=show_again, buttons={Action.DAY: _on_day}),
)
REGISTRY.declare(
    Step.AP_PART,
    StepSpec(prompt=prompt_of(ask_part), on_text=show_again, buttons={Action.PART: _on_part}),
)
