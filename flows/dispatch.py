"""The one dispatcher: an inbound event to the handler the registry declares for it, on a
stored turn or on one served while storage is failing (`turn.stored` False, a unit that stores
nothing), where only what needs no memory is done."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from faq.normalize import clean
from flows import conversations, payloads
from flows.conversations import browse, media, relay, urgent
from flows.payloads import ForgedPayloadError
from flows.registry import REGISTRY

if TYPE_CHECKING:
    from flows.events import Inbound
    from flows.turn import Turn

logger = logging.getLogger(__name__)

MAX_TEXT: Final = 2000
assert conversations.__all__  # every conversation declared its steps, buttons and commands


async def dispatch(turn: Turn, event: Inbound) -> None:
    if event.kind == "button":
        await _press(turn, event.payload)
        return
    spec = REGISTRY.spec(turn.step)
    if event.kind == "contact" and spec.on_contact is not None and turn.stored:
        await spec.on_contact(turn, event.phone or "")
    elif event.kind == "open":
        await (reopen(turn, returning=True) if turn.stored else browse.show_menu(turn))
    elif event.kind in media.FORWARDED and turn.stored:
        caption = clean(event.text or "")[:MAX_TEXT] or None
        await media.on_media(turn, event.kind, event.media_ref, event.channel, caption)
    elif event.kind != "text":
        if turn.stored:
            turn.say("input-not-text")
            await reopen(turn)
    else:
        text = clean(event.text or "")[:MAX_TEXT]
        if not text:
            if turn.stored:
                turn.say("input-empty")
        elif text.startswith("/"):
            await _command(turn, text)
        else:
            await _text(turn, text)


async def _press(turn: Turn, raw: str | None) -> None:
    try:
        payload = payloads.parse(raw)
        await REGISTRY.on_button(turn, payload.action)(turn, payload)
    except ForgedPayloadError:
        if not turn.stored:
            return
        logger.warning("refused a button payload that is not ours")
        turn.drop_request()
        turn.say("button-invalid")
        await browse.show_menu(turn)


async def _command(turn: Turn, text: str) -> None:
    name, argument = command_of(text)
    entry = REGISTRY.commands.get(name)
    handler = None if entry is None else entry.handler if turn.stored else entry.without_storage
    if handler is not None:
        await handler(turn, argument)
    elif entry is None and turn.stored:
        turn.say("command-unknown", [[turn.menu_button()]])


async def _text(turn: Turn, text: str) -> None:
    spec = REGISTRY.spec(turn.step)
    if not turn.stored or not spec.screened:
        await (spec.on_text if turn.stored and spec.on_text else REGISTRY.ask)(turn, text)
        return
    if not turn.step.in_request and turn.open_case is not None:
        await relay.relay(turn, turn.open_case, text)
        return
    if await urgent.screen(turn, text, spec):
        return
    await (spec.on_text or REGISTRY.ask)(turn, text)


async def reopen(turn: Turn, *, returning: bool = False) -> None:
    """Show the prompt of the step the person is at (after a restart, or after a sticker).

    A person `returning` to the chat (the console opened again) at the menu also hears where
    their open request stands (the bot may have stopped before they saw its reference): what
    their caseworker last wrote, that a caseworker has it, or that it is in the queue.
    """
    if returning and not turn.step.in_request:
        request = await turn.unit.requests.latest_open_of(turn.user.id)
        if request is not None:
            await relay.say_case(turn, request)
    await REGISTRY.enter(turn, turn.step)


def command_of(text: str) -> tuple[str, str]:
    """A command's name, casefolded, and its argument: "/START@poradna_bot x" -> ("start", "x")."""
    command, _, argument = text[1:].partition(" ")
    return command.split("@", 1)[0].casefold(), argument
