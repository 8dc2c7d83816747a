"""Telegram updates as the engine's inbound events (and nothing else)."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message

from bot.telegram import CHANNEL
from flows.events import Inbound, InputKind

__all__ = ["CHANNEL", "callback_to_event", "client_language", "message_to_event"]


def client_language(code: str | None) -> str | None:
    """``pt-br`` → ``pt``: the language part of Telegram's language_code."""
    return code.split("-", 1)[0].casefold() if code else None


def message_kind(message: Message) -> InputKind:
    if message.contact:
        return "contact"
    if message.text is not None:
        return "text"
    if message.voice or message.audio or message.video_note:
        return "voice"
    if message.sticker:
        return "sticker"
    if message.photo:
        return "photo"
    if message.video or message.animation:
        return "video"
    if message.document:
        return "document"
    if message.location or message.venue:
        return "location"
    return "other"


def media_ref(message: Message) -> str | None:
    """The file id of a photo (its largest size) or a document: all of it that is kept."""
    if message.photo:
        return message.photo[-1].file_id
    if message.document:
        return message.document.file_id
    return None


def message_to_event(message: Message, update_id: int | None = None) -> Inbound:
    user = message.from_user
    kind = message_kind(message)
    return Inbound(
        channel=CHANNEL,
        user=str(message.chat.id),
        kind=kind,
        text=message.text if kind == "text" else message.caption,
        phone=message.contact.phone_number if message.contact else None,
        client_lang=client_language(user.language_code if user else None),
        update_id=update_id,
        media_ref=media_ref(message),
    )


def callback_to_event(query: CallbackQuery, update_id: int | None = None) -> Inbound:
    return Inbound(
        channel=CHANNEL,
        user=str(query.from_user.id),
        kind="button",
        payload=query.data or "",
        client_lang=client_language(query.from_user.language_code),
        update_id=update_id,
    )
