"""Button payloads: short ``action[:value]`` strings, under Telegram's 64-byte limit.

Anything that does not parse, names an unknown action, or names an unknown language, category
or topic is treated as forged and refused by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MAX_BYTES: Final = 64

LANG: Final = "lang"
MENU: Final = "menu"
CATEGORY: Final = "cat"
TOPIC: Final = "topic"
PERSON: Final = "person"
NONE_OF_THESE: Final = "none"
HELPED: Final = "fb"
TIME: Final = "time"
KEEP_QUESTION: Final = "keepq"
CONSENT: Final = "consent"
SWITCH: Final = "sw"
KEEP_LANGUAGE: Final = "keeplang"
CANCEL: Final = "cancel"
RATE: Final = "rate"
FORGET: Final = "forget"
APPOINTMENT: Final = "appt"
KIND: Final = "kind"
PLACE: Final = "place"
OFFICE: Final = "office"
DAY: Final = "day"
PART: Final = "part"
CANCEL_APPOINTMENT: Final = "apcancel"
SOURCE_VERSION: Final = "src"
# Staff desk buttons.
CLAIM: Final = "claim"
CLOSE: Final = "close"

ACTIONS: Final = frozenset(
    {
        LANG,
        MENU,
        CATEGORY,
        TOPIC,
        PERSON,
        NONE_OF_THESE,
        HELPED,
        TIME,
        KEEP_QUESTION,
        CONSENT,
        SWITCH,
        KEEP_LANGUAGE,
        CANCEL,
        RATE,
        FORGET,
        APPOINTMENT,
        KIND,
        PLACE,
        OFFICE,
        DAY,
        PART,
        CANCEL_APPOINTMENT,
        SOURCE_VERSION,
    }
)
TIMES: Final = ("morning", "afternoon", "evening")
PARTS: Final = ("morning", "afternoon")


class ForgedPayloadError(ValueError):
    """A button payload that this bot never made."""


@dataclass(frozen=True)
class Payload:
    action: str
    value: str | None = None

    def encode(self) -> str:
        raw = self.action if self.value is None else f"{self.action}:{self.value}"
        if len(raw.encode()) > MAX_BYTES:
            raise ValueError(f"payload over {MAX_BYTES} bytes: {raw!r}")
        return raw


def make(action: str, value: str | None = None) -> str:
    return Payload(action, value).encode()


def parse(raw: str | None) -> Payload:
    """Split a payload; raise `ForgedPayloadError` when it is not one of ours."""
    if not raw or len(raw.encode()) > MAX_BYTES:
        raise ForgedPayloadError(raw)
    action, _, value = raw.partition(":")
    if action not in ACTIONS:
        raise ForgedPayloadError(raw)
    return Payload(action, value or None)


STAFF_ACTIONS: Final = frozenset({CLAIM, CLOSE})


def parse_staff(raw: str | None) -> Payload:
    """A staff desk button: ``claim:R-0042`` or ``close:R-0042``."""
    if not raw or len(raw.encode()) > MAX_BYTES:
        raise ForgedPayloadError(raw)
    action, _, value = raw.partition(":")
    if action not in STAFF_ACTIONS or not value:
        raise ForgedPayloadError(raw)
    return Payload(action, value)
