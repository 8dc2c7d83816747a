"""What a channel adapter hands to the engine, and what it gets back."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

# "open": the chat was (re)opened, e.g. the console started: show where the user is.
InputKind = Literal[
    "open",
    "text",
    "button",
    "contact",
    "sticker",
    "photo",
    "voice",
    "video",
    "document",
    "location",
    "other",
]


# Control characters (C0 and C1, DEL) but tab and newline, and lone surrogates: nobody means
# them, PostgreSQL refuses NUL in text, and a terminal or log reader may act on an escape.
_CONTROL: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def scrub(value: str | None) -> str | None:
    """What a person sent, safe to store and show: CR LF and a lone CR become LF, other
    control characters are removed. Applied to every `Inbound` field, whatever the channel."""
    if value is None:
        return None
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


@dataclass(frozen=True)
class Inbound:
    """One thing a user did: wrote text, pressed a button, shared a contact, sent a sticker.

    The one edge where input enters the flows: every channel builds an `Inbound`, and its text
    fields are cleaned of control characters here (`scrub`)."""

    channel: str
    user: str
    kind: InputKind = "text"
    text: str | None = None
    payload: str | None = None
    phone: str | None = None
    client_lang: str | None = None
    # The channel's id of this update, when it has one (Telegram's update_id, Messenger's
    # message id): recorded in the turn's own transaction, so a redelivered update is skipped
    # and a lost one is not.
    update_id: int | str | None = None
    # A photo or document (`kind`): the channel's opaque reference to the file (Telegram's
    # file_id), the only thing of it that is stored; `text` is its
    # caption. None on channels that have no file (the console's `/photo`).
    media_ref: str | None = None

    def __post_init__(self) -> None:
        for name in ("user", "text", "payload", "phone", "client_lang", "media_ref"):
            value = getattr(self, name)
            cleaned = scrub(value)
            if cleaned != value:
                object.__setattr__(self, name, cleaned)

    @classmethod
    def message(
        cls, channel: str, user: str, text: str, client_lang: str | None = None
    ) -> Inbound:
        return cls(channel=channel, user=user, kind="text", text=text, client_lang=client_lang)

    @classmethod
    def press(
        cls, channel: str, user: str, payload: str, client_lang: str | None = None
    ) -> Inbound:
        return cls(
            channel=channel, user=user, kind="button", payload=payload, client_lang=client_lang
        )


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """A message to show. `key` names the UI string it came from (``faq-answer`` for answers)."""

    key: str
    text: str
    lang: str
    rtl: bool = False
    title: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    request_phone: bool = False
    # The label of a "share my phone number" button, for channels that have one.
    phone_label: str | None = None
    # Set on messages to a staff chat: thread this message under the announcement of a request.
    reply_to_reference: str | None = None
    # A photo or document the person sent, to show with this message (`media_ref`: the file's
    # reference on `media_channel`, the channel it came from; the adapter of that channel
    # sends the file itself, another shows only the text).
    media_kind: str | None = None
    media_ref: str | None = None
    media_channel: str | None = None

    @property
    def flat_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]

    def to_body(self) -> dict[str, Any]:
        """A JSON-able form, for the outbox."""
        return asdict(self)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Reply:
        rows = tuple(tuple(Button(**b) for b in row) for row in body.get("buttons", ()))
        return cls(**{**body, "buttons": rows})
