"""Replies as Telegram messages: HTML-escaped text, split under the length limit, keyboards."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Final

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from flows.events import Reply

# Telegram allows 4096 characters after entity parsing; stay under it with the raw text so that
# the bold title and escaping never push a part over.
MAX_PART: Final = 4000


@dataclass(frozen=True)
class Outgoing:
    text: str
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None


def split_text(text: str, limit: int = MAX_PART) -> list[str]:
    """Split at paragraph, then line, then word boundaries; never inside a word if avoidable."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = rest.rfind(separator, 0, limit)
            if cut > limit // 2:
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p]


def render(reply: Reply) -> list[Outgoing]:
    """The messages that show `reply`; the keyboard goes with the last part."""
    parts = [html.escape(p, quote=False) for p in split_text(reply.text)]
    if reply.title:
        parts[0] = f"<b>{html.escape(reply.title, quote=False)}</b>\n\n{parts[0]}"
    inline = (
        InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=b.label, callback_data=b.payload) for b in row]
                for row in reply.buttons
            ]
        )
        if reply.buttons
        else None
    )
    messages = [Outgoing(text) for text in parts[:-1]]
    messages.append(Outgoing(parts[-1], inline))
    if reply.request_phone and reply.phone_label:
        label = reply.phone_label
        messages.append(
            Outgoing(
                html.escape(label, quote=False),
                ReplyKeyboardMarkup(
                    keyboard=[[KeyboardButton(text=label, request_contact=True)]],
                    resize_keyboard=True,
                    one_time_keyboard=True,
                ),
            )
        )
    return messages
