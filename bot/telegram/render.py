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

from bot.split import split_text as split
from bot.split import utf16_length
from flows.events import Reply

# Telegram allows 4096 UTF-16 code units of text after entity parsing (escapes count as the
# character they stand for; an emoji outside the BMP counts two).
MAX_MESSAGE: Final = 4096
# A photo's or document's caption: 1024 units, counted the same way.
MAX_CAPTION: Final = 1024


@dataclass(frozen=True)
class Outgoing:
    text: str
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None


def split_text(text: str, limit: int = MAX_MESSAGE, first_limit: int | None = None) -> list[str]:
    """Parts of at most `limit` UTF-16 units (`first_limit` for the first): `bot.split`."""
    return split(text, limit, first_limit)


def render(reply: Reply) -> list[Outgoing]:
    """The messages that show `reply`, each within Telegram's length; the keyboard goes with
    the last part. Every text the bot sends is escaped here, and only here."""
    title = utf16_length(reply.title) + 2 if reply.title else 0  # "<b>title</b>\n\n"
    parts = [
        html.escape(p, quote=False)
        for p in split_text(reply.text, first_limit=MAX_MESSAGE - title)
    ]
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


def caption_of(reply: Reply) -> str | None:
    """`reply`'s text as the caption of the photo or document it carries, escaped like every
    text; None when it is too long for a caption (it then goes as a message of its own)."""
    if reply.title or reply.buttons or utf16_length(reply.text) > MAX_CAPTION:
        return None
    return html.escape(reply.text, quote=False)
