"""Replies as Messenger messages, within the Send API's limits.

- text: at most 2,000 characters a message, split between paragraphs (then lines, then words);
- buttons: quick replies on the last message, at most 13, titles at most 20 characters. When a
  label is longer (a topic's title), every button is numbered in the text, as in the console,
  and its quick reply is the number with the start of the label;
- a phone request: Messenger's quick reply that offers the person's own phone number (typing
  it works too).
"""

from __future__ import annotations

import logging
from typing import Any, Final

from bot.split import split_text
from flows.events import Button, Reply

logger = logging.getLogger(__name__)

MAX_TEXT: Final = 2000
MAX_QUICK_REPLIES: Final = 13
MAX_TITLE: Final = 20


def _short(label: str, number: int) -> str:
    title = f"{number}. {label}"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def _quick_replies(buttons: list[Button], phone: bool) -> tuple[list[dict[str, Any]], str]:
    """The quick replies, and the numbered list to add to the text (empty when every label
    fits)."""
    room = MAX_QUICK_REPLIES - (1 if phone else 0)
    if len(buttons) > room:
        logger.warning("%s buttons, Messenger shows %s: the rest are left out", len(buttons), room)
        buttons = buttons[:room]
    numbered = any(len(b.label) > MAX_TITLE for b in buttons)
    replies: list[dict[str, Any]] = [{"content_type": "user_phone_number"}] if phone else []
    replies += [
        {
            "content_type": "text",
            "title": _short(b.label, n) if numbered else b.label,
            "payload": b.payload,
        }
        for n, b in enumerate(buttons, 1)
    ]
    listing = "\n".join(f"{n}. {b.label}" for n, b in enumerate(buttons, 1)) if numbered else ""
    return replies, listing


def render(reply: Reply) -> list[dict[str, Any]]:
    """The Send API `message` objects that show `reply`; the quick replies go with the last."""
    text = f"{reply.title}\n\n{reply.text}" if reply.title else reply.text
    phone = bool(reply.request_phone)
    quick, listing = _quick_replies(reply.flat_buttons, phone)
    if listing:
        text = f"{text}\n\n{listing}"
    # split_text counts UTF-16 units: an emoji counts two, so a part is never over 2,000.
    messages: list[dict[str, Any]] = [{"text": part} for part in split_text(text, MAX_TEXT)]
    if not messages:
        messages = [{"text": "…"}]
    if quick:
        messages[-1]["quick_replies"] = quick
    return messages
