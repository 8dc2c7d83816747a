"""Where a person is in the conversation (`Step`) and what they have said so far (`Draft`).

Both are stored with the person (`ConversationState.step` and `.data`) and read back at the next
message; the stored form is the one of every earlier version (the step's string, the draft as a
flat JSON object of the keys set), so conversations in progress survive an upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Final, Self


class Step(StrEnum):
    NEW = "new"  # storage's `NOT_STARTED`: a person who never wrote
    CHOOSING_LANGUAGE = "lang"
    MENU = "menu"
    CATEGORY = "category"
    ANSWERED = "answered"
    CLARIFYING = "clarify"
    ESCALATED = "escalated"
    CB_PHONE = "cb_phone"
    CB_TIME = "cb_time"
    CB_QUESTION = "cb_question"
    CB_CONSENT = "cb_consent"
    FORGET_CONFIRM = "forget"
    AP_KIND = "ap_kind"
    AP_PLACE = "ap_place"
    AP_OFFICE = "ap_office"
    AP_DAY = "ap_day"
    AP_PART = "ap_part"

    @classmethod
    def stored(cls, value: str) -> Step:
        """The step read from storage; one this version does not know is the menu."""
        return _STEPS.get(value, cls.MENU)

    @property
    def in_request(self) -> bool:
        """A step of a request in progress (a callback or an appointment): /cancel drops it."""
        return self in REQUEST_STEPS


_STEPS: Final = {step.value: step for step in Step}
REQUEST_STEPS: Final = frozenset(
    {
        Step.CB_PHONE,
        Step.CB_TIME,
        Step.CB_QUESTION,
        Step.CB_CONSENT,
        Step.AP_KIND,
        Step.AP_PLACE,
        Step.AP_OFFICE,
        Step.AP_DAY,
        Step.AP_PART,
    }
)
URGENT_TIME: Final = "asap"
APPOINTMENT: Final = "appointment"


@dataclass
class Request:
    """A callback request or an appointment being filled in, step by step."""

    phone: str | None = None
    time: str | None = None
    request_question: str | None = None
    urgent: bool = False
    request_kind: str | None = None  # "appointment", else a callback
    ap_kind: str | None = None
    ap_place: str | None = None
    ap_office: str | None = None
    ap_day: str | None = None
    ap_part: str | None = None
    # Photos and documents sent before the request was made, kept for its caseworker: each
    # {"kind", "ref", "channel", "caption"}, the channel's file reference only.
    media: list[dict[str, str | None]] | None = None

    @property
    def is_appointment(self) -> bool:
        return self.request_kind == APPOINTMENT


@dataclass
class Draft:
    """What the conversation remembers between messages."""

    disclaimer: bool = False  # the "not legal advice" note was shown once
    question: str | None = None  # the person's last free question
    topic: str | None = None  # the topic last answered
    topic_at: str | None = None  # when (ISO 8601, UTC): a follow-up is read in its context
    # The language the person last wrote in (surely): their requests are routed by it.
    written: str | None = None
    # Messages written in another language than the conversation's since the offer to switch,
    # and whether the person said to keep the language (then it is not offered again).
    switch_seen: int | None = None
    switch_refused: bool = False
    category: str | None = None  # the category last browsed
    request: Request = field(default_factory=Request)

    def drop_request(self) -> None:
        """Forget the request in progress (cancelled, declined or stored)."""
        self.request = Request()

    def fresh(self, **context: Any) -> Draft:
        """A new draft that keeps only whether the disclaimer was shown and what is known of
        the person's language."""
        return Draft(
            disclaimer=self.disclaimer,
            written=self.written,
            switch_seen=self.switch_seen,
            switch_refused=self.switch_refused,
            **context,
        )

    def to_data(self) -> dict[str, Any]:
        """The stored form: the keys that are set, in one flat JSON object (every message
        stores it: plain attribute reads, not `dataclasses.asdict`'s deep copy)."""
        own = self.__dict__.items()
        data = {k: v for k, v in own if k != "request" and v is not None and v is not False}
        data.update(
            (k, v) for k, v in self.request.__dict__.items() if v is not None and v is not False
        )
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        request = Request(**{f.name: data[f.name] for f in _REQUEST_FIELDS if f.name in data})
        own = {f.name: data[f.name] for f in _DRAFT_FIELDS if f.name in data}
        return cls(**own, request=request)


_REQUEST_FIELDS: Final = fields(Request)
_DRAFT_FIELDS: Final = tuple(f for f in fields(Draft) if f.name != "request")
