"""A case's thread: what the person and the caseworkers wrote, oldest first.

Read from the case thread (`unit.threads`: every message of an open case, the person's texts,
photos and documents as their channel's file id, and the caseworkers' answers from Telegram,
the CLI or this console), after the question the request was made with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.dto import CallbackDto, ThreadEntryDto


@dataclass(frozen=True)
class ThreadEntry:
    author: str  # "person" or "staff"
    text: str
    at: datetime
    media_kind: str | None = None  # photo or document (a reference, never the file)
    media_ref: str | None = None


def thread_entries(request: CallbackDto, thread: list[ThreadEntryDto]) -> list[ThreadEntry]:
    entries = []
    if request.question:
        entries.append(ThreadEntry("person", request.question, request.created_at))
    entries += [
        ThreadEntry(e.author, e.text or "", e.created_at, e.media_kind, e.media_ref)
        for e in thread
    ]
    return sorted(entries, key=lambda e: e.at)
