"""Long texts in parts for a channel's length limit, counted in UTF-16 code units (Telegram's
count; Messenger's 2,000 characters are counted the same way here, which is never more)."""

from __future__ import annotations


def utf16_length(text: str) -> int:
    """Telegram's length of a text: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _fitting(text: str, limit: int) -> int:
    """How many code points of `text` fit in `limit` UTF-16 units (never half an emoji)."""
    if 2 * len(text) <= limit:
        return len(text)  # fits whatever it holds: the usual answer, counted no further
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int, first_limit: int | None = None) -> list[str]:
    """Parts of at most `limit` UTF-16 units (`first_limit` for the first), split at paragraph,
    then line, then word boundaries; never inside a word if avoidable."""
    parts: list[str] = []
    rest = text
    room = limit if first_limit is None else first_limit
    while (end := _fitting(rest, room)) < len(rest):
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = rest.rfind(separator, 0, end)
            if cut > end // 2:
                break
        if cut <= 0:
            cut = end
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
        room = limit
    parts.append(rest)
    return [p for p in parts if p]
