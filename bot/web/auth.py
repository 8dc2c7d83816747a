"""Who may use the console: passwords (argon2), server-side sessions, CSRF tokens and the
Origin check on every change, login throttling, and roles.

The session cookie holds a random token; the database keeps only its SHA-256, with the session's
CSRF token. A session ends at logout, after `IDLE` without a request, after `LIFETIME`, when the
password is changed, and at once when the caseworker is deactivated (the session is looked up
with the caseworker's `active` flag on every request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from storage.models import utcnow
from storage.repositories.console import SESSION_IDLE, SESSION_LIFETIME
from storage.states import StaffRole

if TYPE_CHECKING:
    from storage.dto import SessionDto
    from storage.unit import Storage

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SESSION_COOKIE: Final = "poradna_session"
LOGIN_COOKIE: Final = "poradna_login"
FLASH_COOKIE: Final = "poradna_flash"
IDLE: Final = SESSION_IDLE
LIFETIME: Final = SESSION_LIFETIME
TOUCH_EVERY: Final = timedelta(minutes=1)
# Login attempts allowed per 15-minute window, for one login and for one address.
LOGIN_TRIES: Final = 5
ADDRESS_TRIES: Final = 30
THROTTLE_MINUTES: Final = 15
MIN_PASSWORD: Final = 10
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY: Final[web.RequestKey[SessionDto]] = web.RequestKey("session")

_hasher: Final = PasswordHasher()
# Verified against when the login is unknown, so that a wrong login takes as long as a wrong
# password.
_DUMMY_HASH: Final = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given), expected)


def is_secure(request: web.Request) -> bool:
    """Served over https (directly, or behind a proxy that says so)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


def same_origin(request: web.Request) -> bool:
    """A change must come from a page of this console: its Origin (or, without one, its
    Referer) names this host. Neither header: not a browser's cross-site form; the CSRF
    token still has to match."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return True
    if source == "null":
        return False
    return urlsplit(source).netloc == request.host


def set_cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, **extra: object
) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="Strict",
        secure=is_secure(request),
        path="/",
        **extra,  # type: ignore[arg-type]
    )


def session_of(request: web.Request) -> SessionDto:
    """The session the middleware found (only on pages that need one)."""
    return request[SESSION_KEY]


async def find_session(storage: Storage, token: str | None) -> SessionDto | None:
    """The live session of an active caseworker for this cookie, or None (and an expired one
    is ended)."""
    if not token:
        return None
    hashed = token_hash(token)
    now = utcnow()
    async with storage.begin() as unit:
        session = await unit.accounts.session(hashed)
        if session is None:
            return None
        if session.seen_at < now - IDLE or session.created_at < now - LIFETIME:
            await unit.accounts.end_session(hashed)
            return None
        if session.seen_at < now - TOUCH_EVERY:
            await unit.accounts.touch(hashed)
    return session


async def end_stale_sessions(storage: Storage) -> int:
    """Delete the sessions past `IDLE` or `LIFETIME` (a session is also ended when it is next
    used; this removes those never used again). Run by the maintenance loop."""
    async with storage.begin() as unit:
        return await unit.accounts.end_expired(utcnow())


async def throttled(storage: Storage, login: str, address: str) -> bool:
    """Count a login attempt; True when this login or this address tried too often in the
    current 15-minute window. The window is stored as its last minute, so the counters outlive
    the 15-minute purge of finished windows."""
    minute = int(utcnow().timestamp() // 60)
    window = minute - minute % THROTTLE_MINUTES + THROTTLE_MINUTES - 1
    async with storage.begin() as unit:
        by_login = await unit.rates.hit(f"web-login:{login.casefold()[:64]}", window)
        by_address = await unit.rates.hit(f"web-address:{address[:64]}", window)
    return by_login > LOGIN_TRIES or by_address > ADDRESS_TRIES


def has_role(session: SessionDto, role: StaffRole) -> bool:
    try:
        mine = StaffRole(session.staff.role)
    except ValueError:
        return False
    return mine.rank >= role.rank


def requires(role: StaffRole) -> Callable[[Handler], Handler]:
    """Only staff with this role (or a higher one) reach the page; others get 403."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not has_role(session_of(request), role):
                raise web.HTTPForbidden(text="403: not for your role")
            return await handler(request)

        return guarded

    return wrap
