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
from flows.events import Button, Inbound, InputKind, Reply

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


def render(reply: Reply, first_number: int) -> tuple[str, list[Button]]:
    """Plain-text rendering of a reply; buttons numbered from `first_number`."""
    lines = []
    if reply.title:
        lines.append(reply.title)
        lines.append("")
    lines.append(reply.text)
    buttons = reply.flat_buttons
    number = first_number
    for row in reply.buttons:
        cells = []
        for button in row:
            cells.append(f"[{number}] {button.label}")
            number += 1
        lines.append("  ".join(cells))
    return "\n".join(lines), buttons


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
        buttons = []
        for reply in replies:
            text, shown = render(reply, len(buttons) + 1)
            buttons.extend(shown)
            stdout.write(text + "\n\n")
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
