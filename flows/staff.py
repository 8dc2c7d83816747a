"""Staff routing and notification: what the caseworkers hear, where, and what the person hears
from the desk. Used by the conversations (a new request, a relayed message) and by the desk (a
claim, a reply, a reminder) alike; everything goes through the outbox of the caller's unit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from flows import payloads as pl
from flows.calendar import day_label, when_label
from flows.events import Button, Reply
from flows.payloads import StaffAction
from flows.window import DEFAULT_HUMAN_AGENT_DAYS, STANDARD, WINDOWED
from storage.models import utcnow
from storage.repositories.threads import PERSON

if TYPE_CHECKING:
    from faq.loader import Faq
    from faq.offices import Office
    from locales import Locales, Translator
    from storage.dto import AppointmentDto, CallbackDto, StaffDto
    from storage.unit import Unit

# The caseworkers' desk, as the outbox knows it; a channel adapter delivers it (Telegram: the
# staff group set by STAFF_CHAT_ID).
STAFF_CHANNEL: Final = "staff"
STAFF_RECIPIENT: Final = "desk"

ButtonRows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Media:
    """A photo or document from the person: its kind, the channel's reference to the file (None
    where there is no file, the console), that channel, and its caption."""

    kind: str
    ref: str | None
    channel: str
    caption: str | None = None

    @classmethod
    def kept(cls, entries: Sequence[dict[str, str | None]] | None) -> list[Media]:
        """The media a draft kept for a request (`Request.media`)."""
        return [
            cls(str(e["kind"]), e.get("ref"), str(e["channel"]), e.get("caption"))
            for e in entries or ()
        ]


async def queue_media_for_staff(
    unit: Unit,
    t: Translator,
    reference: str,
    kind: str,
    media_ref: str | None,
    channel: str,
    caption: str | None,
    *,
    to: StaffDto | None = None,
) -> None:
    """The person's photo or document, to the desk under the request (or to one caseworker)."""
    await queue_for_staff(
        unit,
        t,
        f"staff-migrant-sent-{kind}",
        reference,
        reply_to=to is None,
        to=to,
        media=Media(kind, media_ref, channel, caption),
        caption=caption or "",
    )


async def give_kept_media(
    unit: Unit,
    t: Translator,
    reference: str,
    media: Sequence[Media],
    *,
    to: Sequence[StaffDto | None] = (None,),
) -> None:
    """The photos and documents a person sent before making the request: into its thread, and
    to those the request was announced to (`None`: the desk), after the announcement."""
    for item in media:
        await unit.threads.add(
            reference,
            PERSON,
            channel=item.channel,
            text=item.caption,
            media_kind=item.kind,
            media_ref=item.ref,
        )
        for member in to:
            await queue_media_for_staff(
                unit, t, reference, item.kind, item.ref, item.channel, item.caption, to=member
            )


async def queue_for_staff(
    unit: Unit,
    t: Translator,
    key: str,
    reference: str,
    *,
    buttons: bool = False,
    reply_to: bool = False,
    to: StaffDto | None = None,
    note: str | None = None,
    media: Media | None = None,
    **args: object,
) -> None:
    """Queue a message for the caseworkers' desk (or one caseworker's own chat, `to`), with
    Claim / Close buttons if asked, a `note` line under the text, and the person's photo or
    document (`media`)."""
    rows = (
        (
            (
                Button(t("buttons-claim"), pl.staff(StaffAction.CLAIM, reference)),
                Button(t("buttons-close"), pl.staff(StaffAction.CLOSE, reference)),
            ),
        )
        if buttons
        else ()
    )
    text = t(key, reference=reference, **args)
    reply = Reply(
        key=key,
        text=f"{text}\n\n{note}" if note else text,
        lang=t.lang,
        rtl=t.rtl,
        buttons=rows,
        reply_to_reference=reference if reply_to else None,
        media_kind=media.kind if media else None,
        media_ref=media.ref if media else None,
        media_channel=media.channel if media else None,
    )
    channel, recipient = (to.channel, to.external_id) if to else (STAFF_CHANNEL, STAFF_RECIPIENT)
    await unit.outbox.add(channel, recipient, reply.to_body(), reference=reference)


async def announce_request(
    unit: Unit,
    t: Translator,
    locales: Locales,
    faq: Faq,
    request: CallbackDto,
    media: Sequence[Media] = (),
    *,
    human_agent_days: int = DEFAULT_HUMAN_AGENT_DAYS,
) -> None:
    """A new callback request. Caseworkers who speak the person's language hear of it first, in
    their own chat; everyone (the desk) when nobody speaks it, when it is urgent (then every
    caseworker personally too), or later when it is still unclaimed (the SLA reminder). For a
    person on a channel with a messaging window (Messenger), until when they can be answered."""
    note = await window_note(unit, t, request, human_agent_days)
    common: dict[str, Any] = {
        "note": note,
        "language": f"{request.lang} ({locales.get(request.lang).name})",
        "phone": request.phone or "-",
        "question": request.question or "-",
    }
    if request.urgent:
        key = "staff-urgent-request"
    else:
        key = "staff-new-request"
        topic = request.topic_id
        common["topic"] = (
            faq.topics[topic].title(t.lang) if topic in faq.topics else t("staff-no-topic")
        )
        common["time"] = t(f"callback-time-{request.preferred_time}")
    staff = await unit.staff.list_staff()
    speakers = [s for s in staff if request.lang in s.languages]
    told: list[StaffDto | None] = list(staff if request.urgent else speakers)
    for member in told:
        await queue_for_staff(unit, t, key, request.reference, buttons=True, to=member, **common)
    if request.urgent or not speakers:
        await queue_for_staff(unit, t, key, request.reference, buttons=True, **common)
        await unit.requests.mark_announced(request.reference)
        told.append(None)
    await give_kept_media(unit, t, request.reference, media, to=told)


async def window_note(
    unit: Unit, t: Translator, request: CallbackDto, human_agent_days: int
) -> str | None:
    """ "Messenger: a normal answer until …; with the human-agent tag until …", or None for a
    channel without a window."""
    user = await unit.users.get(request.user_id) if request.user_id is not None else None
    if user is None or user.channel not in WINDOWED:
        return None
    now = utcnow()
    tagged = now + timedelta(days=human_agent_days) if human_agent_days else now + STANDARD
    return t(
        "staff-messenger-window",
        until=when_label(now + STANDARD, t.lang),
        tagged=when_label(tagged, t.lang),
    )


async def announce_appointment(
    unit: Unit,
    t: Translator,
    locales: Locales,
    office: Office,
    appointment: AppointmentDto,
    media: Sequence[Media] = (),
) -> None:
    """A new appointment request, to the desk."""
    place = f" – {t(f'appointment-place-{appointment.place}')}" if appointment.place else ""
    await queue_for_staff(
        unit,
        t,
        "staff-new-appointment",
        appointment.reference,
        language=f"{appointment.lang} ({locales.get(appointment.lang).name})",
        kind=t(f"appointment-kind-{appointment.kind}") + place,
        office=office.name,
        day=day_label(appointment.preferred_day, t.lang),
        part=t(f"callback-time-{appointment.part_of_day}"),
        phone=appointment.phone or "-",
    )
    await give_kept_media(unit, t, appointment.reference, media)


async def to_person(
    unit: Unit,
    locales: Locales,
    request: CallbackDto | AppointmentDto,
    key: str,
    buttons: Callable[[Translator], ButtonRows] | None = None,
    *,
    when: datetime | None = None,
    **args: object,
) -> None:
    """Queue a message from the desk to the person a request is from, in their language."""
    if request.user_id is None:
        return  # the person asked to be forgotten
    user = await unit.users.get(request.user_id)
    if user is None:
        return
    t = locales.get(user.lang or request.lang)
    if when is not None:
        args["when"] = when_label(when, t.lang)
    reply = Reply(
        key=key,
        text=t(key, reference=request.reference, **args),
        lang=t.lang,
        rtl=t.rtl,
        buttons=buttons(t) if buttons else (),
    )
    await unit.outbox.add(
        user.channel, user.external_id, reply.to_body(), reference=request.reference
    )
