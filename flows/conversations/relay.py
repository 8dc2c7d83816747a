"""The caseworker relay: a person with an open case writes, the message goes to their
caseworker (the desk answers through `flows.desk`) and into the case thread; after the case is
closed, its rating."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows import payloads as pl
from flows.payloads import Action, ForgedPayloadError, Payload
from flows.registry import REGISTRY
from flows.staff import queue_for_staff, queue_media_for_staff
from storage.repositories.threads import PERSON
from storage.states import OPEN, RequestStatus

if TYPE_CHECKING:
    from flows.turn import Turn
    from storage.dto import CallbackDto


async def relay(turn: Turn, reference: str, text: str) -> None:
    """A person with an open case writes: the message goes to their caseworker."""
    services = turn.services
    hit = services.understanding.urgent_category(text, hint=turn.user.lang)
    # The person answered a caseworker who was waiting: it is the caseworker's turn again.
    await turn.unit.requests.move(reference, RequestStatus.ANSWERED)
    await turn.unit.threads.add(reference, PERSON, channel=turn.user.channel, text=text)
    await queue_for_staff(
        turn.unit, services.staff_t, "staff-migrant-says", reference, reply_to=True, text=text
    )
    if hit:
        turn.say("urgent-help-now")
    turn.say("case-relayed")


async def relay_media(
    turn: Turn, reference: str, kind: str, media_ref: str | None, caption: str | None
) -> None:
    """A person with an open case sends a photo or document: it goes to their caseworker (the
    thread keeps only the channel's reference to the file)."""
    services = turn.services
    hit = caption and services.understanding.urgent_category(caption, hint=turn.user.lang)
    await turn.unit.requests.move(reference, RequestStatus.ANSWERED)
    channel = turn.user.channel
    await turn.unit.threads.add(
        reference, PERSON, channel=channel, text=caption, media_kind=kind, media_ref=media_ref
    )
    await queue_media_for_staff(
        turn.unit, services.staff_t, reference, kind, media_ref, channel, caption
    )
    if hit:
        turn.say("urgent-help-now")
    turn.say("case-media-relayed")


async def say_case(turn: Turn, request: CallbackDto) -> None:
    """Where the person's request stands, for a person coming back to the chat: what their
    caseworker last wrote, that a caseworker has it, or that it waits in the queue."""
    reference = request.reference
    answer = await turn.unit.threads.last_from_staff(reference)
    if answer is not None and answer.text:
        turn.say("case-answered", reference=reference, text=answer.text)
    elif request.status in OPEN:
        turn.say("case-claimed", reference=reference)
    else:
        turn.say("callback-waiting", reference=reference)


@REGISTRY.button(Action.RATE)
async def on_rate(turn: Turn, p: Payload) -> None:
    """The stars under a closed case."""
    if not p.value:
        raise ForgedPayloadError(p.encode())
    reference, stars = pl.parse_rating(p)
    if not await turn.unit.requests.rate(reference, turn.user.id, stars):
        raise ForgedPayloadError(p.encode())
    turn.say("rating-thanks", [[turn.menu_button()]])
