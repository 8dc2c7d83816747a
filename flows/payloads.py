"""Button payloads: short ``action[:value]`` strings, under Telegram's 64-byte limit.

Every payload the bot sends is made here (`make`, `yes_no`, `rating`, `staff`) and every one it
receives is read here (`parse`, `parse_staff`); the tests press buttons through the same
functions. Anything that does not parse, names an unknown action, or (checked by the step that
receives it) names an unknown language, category or topic is treated as forged and refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

MAX_BYTES: Final = 64
YES: Final = "yes"
NO: Final = "no"
TIMES: Final = ("morning", "afternoon", "evening")
PARTS: Final = ("morning", "afternoon")
STARS: Final = range(1, 6)


class Action(StrEnum):
    """What a person's button does (its value, if any, follows a colon)."""

    LANG = "lang"
    MENU = "menu"
    CATEGORY = "cat"
    TOPIC = "topic"
    PERSON = "person"
    NONE_OF_THESE = "none"
    HELPED = "fb"
    TIME = "time"
    KEEP_QUESTION = "keepq"
    CONSENT = "consent"
    SWITCH = "sw"
    KEEP_LANGUAGE = "keeplang"
    CANCEL = "cancel"
    RATE = "rate"
    FORGET = "forget"
    APPOINTMENT = "appt"
    KIND = "kind"
    PLACE = "place"
    OFFICE = "office"
    DAY = "day"
    PART = "part"
    CANCEL_APPOINTMENT = "apcancel"
    SOURCE_VERSION = "src"


class StaffAction(StrEnum):
    """The caseworkers' desk buttons, always about one request: ``claim:R-0042``."""

    CLAIM = "claim"
    CLOSE = "close"


_ACTIONS: Final = {action.value: action for action in Action}


class ForgedPayloadError(ValueError):
    """A button payload that this bot never made."""


@dataclass(frozen=True)
class Payload:
    action: Action
    value: str | None = None

    def encode(self) -> str:
        return _encode(self.action, self.value)


@dataclass(frozen=True)
class StaffPayload:
    action: StaffAction
    reference: str

    def encode(self) -> str:
        return _encode(self.action, self.reference)


def make(action: Action, value: str | None = None) -> str:
    """The payload of a person's button."""
    return _encode(action, value)


def yes_no(action: Action, yes: bool) -> str:
    """``consent:yes``, ``fb:no``, ``forget:yes``."""
    return _encode(action, YES if yes else NO)


def rating(reference: str, stars: int) -> str:
    """``rate:R-0042:5``, one of the five stars under a closed case."""
    return _encode(Action.RATE, f"{reference}:{stars}")


def staff(action: StaffAction, reference: str) -> str:
    """The payload of a desk button."""
    return _encode(action, reference)


def parse(raw: str | None) -> Payload:
    """Split a person's payload; raise `ForgedPayloadError` when it is not one of ours."""
    action, value = _split(raw)
    known = _ACTIONS.get(action)
    if known is None:
        raise ForgedPayloadError(raw)
    return Payload(known, value or None)


def parse_yes_no(payload: Payload) -> bool:
    """The answer of a yes/no button."""
    if payload.value not in (YES, NO):
        raise ForgedPayloadError(payload.encode())
    return payload.value == YES


def parse_rating(payload: Payload) -> tuple[str, int]:
    """The reference and the stars of a rating button."""
    reference, _, stars = (payload.value or "").rpartition(":")
    if not (reference and stars.isdigit() and int(stars) in STARS):
        raise ForgedPayloadError(payload.encode())
    return reference, int(stars)


def parse_staff(raw: str | None) -> StaffPayload:
    """A staff desk button: ``claim:R-0042`` or ``close:R-0042``."""
    action, value = _split(raw)
    if action not in StaffAction.__members__.values() or not value:
        raise ForgedPayloadError(raw)
    return StaffPayload(StaffAction(action), value)


def _encode(action: str, value: str | None) -> str:
    raw = action if value is None else f"{action}:{value}"
    if len(raw.encode()) > MAX_BYTES:
        raise ValueError(f"payload over {MAX_BYTES} bytes: {raw!r}")
    return raw


def _split(raw: str | None) -> tuple[str, str]:
    if not raw or len(raw.encode()) > MAX_BYTES:
        raise ForgedPayloadError(raw)
    action, _, value = raw.partition(":")
    return action, value
