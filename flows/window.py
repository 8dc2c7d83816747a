"""The messaging window of channels that limit when a business may write (Messenger): a
caseworker's message within 24 hours of the person's last message goes as a normal message;
later, with the HUMAN_AGENT tag, up to `human_agent_days` (Meta grants the tag on review, at
most 7 days); past that the person cannot be reached on that channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

STANDARD: Final = timedelta(hours=24)
DEFAULT_HUMAN_AGENT_DAYS: Final = 7
# The channels whose messages are bound by the window.
WINDOWED: Final = frozenset({"messenger"})


class WindowState(StrEnum):
    OPEN = "open"  # a normal message
    HUMAN_AGENT = "human-agent"  # only with the HUMAN_AGENT tag
    CLOSED = "closed"  # cannot be reached on the channel


@dataclass(frozen=True)
class Window:
    state: WindowState
    # When the current state ends (None once closed, or when the person never wrote).
    until: datetime | None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "state": self.state.value,
            "until": self.until.isoformat(timespec="minutes") if self.until else None,
        }


def window(last_seen: datetime | None, now: datetime, human_agent_days: int) -> Window:
    """Where `now` falls after the person's last message at `last_seen`."""
    if last_seen is None:
        return Window(WindowState.CLOSED, None)
    standard_end = last_seen + STANDARD
    if now < standard_end:
        return Window(WindowState.OPEN, standard_end)
    tagged_end = last_seen + timedelta(days=human_agent_days)
    if now < tagged_end:
        return Window(WindowState.HUMAN_AGENT, tagged_end)
    return Window(WindowState.CLOSED, None)
