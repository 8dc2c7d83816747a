"""The `X-Hub-Signature-256` header of Meta's webhook requests: HMAC-SHA256 of the raw body with
the app secret, checked before anything in the body is read."""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

HEADER: Final = "X-Hub-Signature-256"
PREFIX: Final = "sha256="


def sign(body: bytes, secret: str) -> str:
    """The header value Meta sends with `body` (the tests' driver signs with it too)."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(body: bytes, header: str | None, secret: str) -> bool:
    """Whether `header` signs exactly these bytes; compared in constant time."""
    if not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())
