"""An asyncio helper for work that touches the database while the bot is being stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def uncancelled(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` to its end even when the caller is cancelled meanwhile, then let the
    cancellation go on. Stopping the bot cancels its loops; asyncpg can leave a connection hung
    (and the stop waiting forever) when a call is cancelled half-way, so each round of work that
    touches the database finishes first."""
    task = asyncio.ensure_future(awaitable)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise
