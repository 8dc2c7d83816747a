"""The terminal channel: a chat on stdin/stdout that behaves like the Telegram one.

Buttons print as numbered options (``[1] Русский``); typing the number or the label presses it.
Piped input works, one message a line; end of input ends the chat with exit code 0.
``/sticker``, ``/photo``, ``/voice``, ``/document`` and ``/location`` simulate non-text messages
(a photo or document has no file here: its caseworker is told that one was sent).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, Final, TextIO

from faq.normalize import words
from flows import payloads as pl
from flows.events import Button, Inbound, InputKind, Reply
from flows.payloads import Action, ForgedPayloadError

if TYPE_CHECKING:
    from flows.engine import Engine

CHANNEL: Final = "console"
SIMULATED: Final[dict[str, InputKind]] = {
    "/sticker": "sticker",
    "/photo": "photo",
    "/voice": "voice",
    "/video": "video",
    "/document": "document",
    "/location": "location",
}


# A message from the desk, and the opening line that would only repeat it.
SAYS_AGAIN: Final = {"caseworker-message": "case-answered"}


def client_language(environ: dict[str, str] | None = None) -> str | None:
    """The terminal's language (``cs`` from ``LANG=cs_CZ.UTF-8``)."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        code = value.split(".", 1)[0].split("_", 1)[0].casefold()
        if code and code not in ("c", "posix"):
            return code
    return None


def render(reply: Reply, numbers: dict[int, int]) -> str:
    """Plain-text rendering of a reply; each button with its number (`numbered`)."""
    lines = []
    if reply.title:
        lines.append(reply.title)
        lines.append("")
    lines.append(reply.text)
    lines += ["  ".join(f"[{numbers[id(b)]}] {b.label}" for b in row) for row in reply.buttons]
    return "\n".join(lines)


def numbered(replies: list[Reply]) -> list[Button]:
    """The buttons of `replies` in the order of their numbers: a rating's stars on the numbers
    1-5 ("4" is four stars, whatever else is offered beside them), then the others as shown."""
    flat = [button for reply in replies for button in reply.flat_buttons]
    stars = sorted((b for b in flat if _stars(b) is not None), key=lambda b: _stars(b) or 0)
    return stars + [b for b in flat if _stars(b) is None]


def _stars(button: Button) -> int | None:
    """The stars of a rating button (`rate:R-0042:4`), else None."""
    try:
        payload = pl.parse(button.payload)
    except ForgedPayloadError:
        return None
    if payload.action != Action.RATE or not payload.value:
        return None
    stars = payload.value.rpartition(":")[2]
    return int(stars) if stars.isdigit() else None


def to_event(line: str, buttons: list[Button], user: str, client_lang: str | None) -> Inbound:
    """What the typed line means: a button press (number or label), a simulated media, or text."""
    text = line.strip()
    if text.isdigit() and 1 <= int(text) <= len(buttons):
        return Inbound.press(CHANNEL, user, buttons[int(text) - 1].payload, client_lang)
    typed = words(text)
    if typed:
        for button in buttons:
            if words(button.label) == typed:
                return Inbound.press(CHANNEL, user, button.payload, client_lang)
    kind = SIMULATED.get(text.casefold())
    if kind:
        return Inbound(channel=CHANNEL, user=user, kind=kind, client_lang=client_lang)
    return Inbound.message(CHANNEL, user, text, client_lang)


async def run_console(
    engine: Engine,
    *,
    user: str,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    client_lang: str | None = None,
) -> int:
    """Chat until end of input. Returns the exit code."""
    interactive = stdin.isatty()
    buttons: list[Button] = []

    def show(replies: list[Reply]) -> None:
        nonlocal buttons
        buttons = numbered(replies)
        numbers = {id(button): number for number, button in enumerate(buttons, 1)}
        for reply in replies:
            stdout.write(render(reply, numbers) + "\n\n")
        stdout.flush()

    opened = Inbound(channel=CHANNEL, user=user, kind="open", client_lang=client_lang)
    waiting = await engine.collect(CHANNEL, user)
    # What the desk sent is shown first; where the request stands is not said again after it
    # (the same claim, or "a caseworker answered you" right under the answer).
    said = {reply.text for reply in waiting} | {
        SAYS_AGAIN[reply.key] for reply in waiting if reply.key in SAYS_AGAIN
    }
    opening = await engine.handle(opened)
    show(waiting + [r for r in opening if r.text not in said and r.key not in said])
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            return 0
        if not line.strip():
            continue
        if not interactive:
            stdout.write(f"> {line.rstrip()}\n")
        replies = await engine.handle(to_event(line, buttons, user, client_lang))
        show(replies + await engine.collect(CHANNEL, user))
