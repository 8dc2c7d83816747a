"""Plain data returned by the repositories: flows never see ORM objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class UserDto:
    id: int
    channel: str
    external_id: str
    lang: str | None
    switch_offered: bool


@dataclass(frozen=True)
class StateDto:
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0


@dataclass(frozen=True)
class CallbackDto:
    id: int
    reference: str
    status: str
    lang: str
    topic_id: str | None
    phone: str | None
    preferred_time: str
    question: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "status": self.status,
            "lang": self.lang,
            "topic": self.topic_id,
            "preferred_time": self.preferred_time,
            "created": self.created_at.isoformat(timespec="seconds"),
        }
