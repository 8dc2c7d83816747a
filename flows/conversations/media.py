"""Photos and documents: the bot cannot read them, a caseworker can.

With an open case, or a request waiting in the queue, they go to its caseworker
(`relay.relay_media`) and into its thread. Without one the person hears that, and is offered a
person or an appointment; the photo is kept for the request (only the channel's reference to
the file, in the draft) and reaches the caseworker with it. A request in progress keeps it too
and goes on at its step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from flows.conversations import relay, urgent
from flows.registry import REGISTRY

if TYPE_CHECKING:
    from flows.turn import Turn

# The kinds of media a caseworker is given; others (stickers, voice...) get "please write".
FORWARDED: Final = frozenset({"photo", "document"})
# How many a draft keeps for a request: enough for every page of a letter.
MAX_KEPT: Final = 20


async def on_media(
    turn: Turn, kind: str, media_ref: str | None, channel: str, caption: str | None
) -> None:
    """A photo or document from the person (`media_ref`: the channel's reference to it)."""
    if not turn.step.in_request:
        # An open case, or a request still waiting in the queue: its caseworker gets it.
        waiting = turn.open_case or await _waiting_request(turn)
        if waiting is not None:
            await relay.relay_media(turn, waiting, kind, media_ref, caption)
            return
    request = turn.draft.request
    kept = list(request.media or [])
    if len(kept) < MAX_KEPT:
        kept.append({"kind": kind, "ref": media_ref, "channel": channel, "caption": caption})
    request.media = kept
    if caption and await urgent.screen(turn, caption, REGISTRY.spec(turn.step)):
        return  # the emergency numbers, then a phone number at once: the photo goes along
    if turn.step.in_request:
        turn.say("case-media-kept")
        await REGISTRY.enter(turn, turn.step)
        return
    turn.say("case-media-offer", turn.help_rows())


async def _waiting_request(turn: Turn) -> str | None:
    request = await turn.unit.requests.latest_open_of(turn.user.id)
    return request.reference if request else None
