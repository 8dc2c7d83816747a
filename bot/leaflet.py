"""Deep links and QR codes for leaflets and posters: ``t.me/<bot>?start=<lang>__<topic>``, and
for Messenger ``m.me/<page>?ref=<lang>__<topic>`` (the same argument: the webhook turns the
referral into the same start)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import qrcode
from qrcode.image.pure import PyPNGImage

from locales import LANGUAGES

if TYPE_CHECKING:
    from pathlib import Path

    from faq.loader import Faq


class LeafletError(ValueError):
    """The link cannot be made (no bot name, unknown topic)."""


def start_payload(lang: str | None, topic: str | None) -> str:
    """The /start argument the engine understands: ``vi``, ``ru__topic-id`` or ``__topic-id``."""
    if topic:
        return f"{lang or ''}__{topic}"
    return lang or ""


def _checked(lang: str | None, topic: str | None, faq: Faq) -> str:
    """The start argument of a language and a topic, once both are known."""
    if lang is not None and lang not in LANGUAGES:
        raise LeafletError(f"unknown language {lang!r}; use one of: {', '.join(LANGUAGES)}")
    if topic is not None and topic not in faq.topics:
        close = difflib.get_close_matches(topic, list(faq.topics), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        ids = ", ".join(sorted(faq.topics))
        raise LeafletError(f"there is no topic {topic!r}; {hint}the topic ids are: {ids}")
    return start_payload(lang, topic)


def leaflet_link(bot: str | None, lang: str | None, topic: str | None, faq: Faq) -> str:
    if not bot or not bot.removeprefix("@").strip():
        raise LeafletError(
            "the bot's Telegram username is not set: add the line "
            "TELEGRAM_BOT_USERNAME=YourBotName (the name after t.me/, without @) to the .env "
            "file, or give it once with --bot YourBotName"
        )
    payload = _checked(lang, topic, faq)
    if len(payload) > 64:
        raise LeafletError("the topic id is too long for a Telegram start link")
    name = bot.removeprefix("@")
    return f"https://t.me/{name}?start={payload}" if payload else f"https://t.me/{name}"


def messenger_link(page: str | None, lang: str | None, topic: str | None, faq: Faq) -> str:
    """``https://m.me/<page>?ref=vi__health-insurance``: opens the page's chat in a language,
    on a topic."""
    if not page or not page.removeprefix("@").strip():
        raise LeafletError(
            "the Facebook page's name is not set: add the line MESSENGER_PAGE_NAME=YourPage "
            "(the name after m.me/ or facebook.com/) to the .env file, or give it once with "
            "--page YourPage"
        )
    payload = _checked(lang, topic, faq)
    name = page.removeprefix("@").strip()
    return f"https://m.me/{name}?ref={payload}" if payload else f"https://m.me/{name}"


def write_qr(link: str, path: Path) -> None:
    """A printable QR code PNG of `link`."""
    image = qrcode.make(link, image_factory=PyPNGImage, box_size=10, border=4)
    with path.open("wb") as file:
        image.save(file)
