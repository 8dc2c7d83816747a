"""The caseworker relay: a person with an open case writes, the message goes to their
caseworker (the desk answers through `flows.desk`); after the case is closed, its rating."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows import payloads as pl
from flows.payloads import Action, ForgedPayloadError, Payload
from flows.registry import REGISTRY
from flows.staff import queue_for_staff
from storage.states import RequestStatus

if TYPE_CHECKING:
    from flows.turn import Turn


async def relay(turn: Turn, reference: str, text: str) -> None:
    """A person with an open case writes: the message goes to their caseworker."""
    services = turn.services
    hit = services.understanding.urgent_category(text, hint=turn.user.lang)
    # The person answered a caseworker who was waiting: it is the caseworker's turn again.
    await turn.unit.requests.move(reference, RequestStatus.ANSWERED)
    await queue_for_staff(
        turn.unit, services.staff_t, "staff-migrant-says", reference, reply_to=True, text=text
    )
    if hit:
        turn.say("urgent-help-now")
    turn.say("case-relayed")


@REGISTRY.button(Action.RATE)
async def on_rate(turn: Turn, p: Payload) -> None:
    """The stars under a closed case."""
    if not p.value:
        raise ForgedPayloadError(p.encode())
    reference, stars = pl.parse_rating(p)
    if not await turn.unit.requests.rate(reference, turn.user.id, stars):
        raise ForgedPayloadError(p.encode())
    turn.say("rating-thanks", [[turn.menu_button()]])
