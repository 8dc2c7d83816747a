"""A case's thread: what the person and the caseworkers wrote, oldest first.

`thread_entries` is fed from what storage holds today: the request's question, what the desk
sent the person (`caseworker-message`) and what the person wrote back to the desk
(`staff-migrant-says`). The case thread repository of the conversation issue replaces its body;
the template partial `_thread.html` only needs the list of `ThreadEntry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from locales import Locales, Translator
    from storage.dto import CallbackDto
    from storage.repositories.console import MessageRow

MARK = "\x00"


@dataclass(frozen=True)
class ThreadEntry:
    author: Literal["person", "staff"]
    text: str
    at: datetime
    media_kind: str | None = None  # photo, voice, document... (a reference, never the file)
    media_ref: str | None = None


def _unwrap(t: Translator, key: str, reference: str, text: str) -> str:
    """The `{text}` a message template wrapped (the body keeps the whole message)."""
    head, _, tail = t(key, reference=reference, text=MARK).partition(MARK)
    if text.startswith(head) and text.endswith(tail):
        return text[len(head) : len(text) - len(tail) if tail else None]
    return text


def thread_entries(
    request: CallbackDto,
    messages: list[MessageRow],
    locales: Locales,
    staff_t: Translator,
    person_lang: str,
) -> list[ThreadEntry]:
    entries = []
    if request.question:
        entries.append(ThreadEntry("person", request.question, request.created_at))
    person_t = locales.get(person_lang)
    for m in messages:
        if m.key == "caseworker-message" and m.to_person:
            text = _unwrap(person_t, "caseworker-message", request.reference, m.text)
            entries.append(ThreadEntry("staff", text, m.created_at))
        elif m.key == "staff-migrant-says" and not m.to_person:
            text = _unwrap(staff_t, "staff-migrant-says", request.reference, m.text)
            entries.append(ThreadEntry("person", text, m.created_at))
    return sorted(entries, key=lambda e: e.at)
