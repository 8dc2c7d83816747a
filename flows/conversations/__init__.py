"""One module per conversation; importing this package declares all their steps, buttons and
commands in `flows.registry.REGISTRY`."""

from flows.conversations import (
    appointment,
    browse,
    callback,
    language,
    media,
    privacy,
    question,
    relay,
    urgent,
)

__all__ = [
    "appointment",
    "browse",
    "callback",
    "language",
    "media",
    "privacy",
    "question",
    "relay",
    "urgent",
]
