"""What every deployment runs beside its channels, whichever they are (so that Messenger alone
does not load aiogram): the minute's reminders and the retention purge, and `/healthz`."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from storage.aio import uncancelled
from storage.models import utcnow

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiohttp import web

    from bot.app import App

logger = logging.getLogger(__name__)

MAINTENANCE_EVERY = 60
# /healthz answers 503 when the database has not answered within this many seconds.
HEALTH_TIMEOUT_S = 2.0
PURGE_EVERY = 6 * 3600


class Wakeable(Protocol):
    def wake(self) -> None: ...


async def maintain(app: App, sender: Wakeable) -> None:
    """Every minute: SLA reminders and appointment reminders; every few hours: erase data
    past RETENTION_DAYS and delete the web console's expired sessions."""
    last_purge = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            if await uncancelled(app.desk.remind_overdue()) + await uncancelled(
                app.desk.send_reminders()
            ):
                sender.wake()
            if loop.time() - last_purge >= PURGE_EVERY or not last_purge:
                purged = await uncancelled(_purge(app))
                last_purge = loop.time()
                logger.info("retention: %s", purged)
                ended = await uncancelled(_end_expired_sessions(app))
                logger.info("web console: %d expired sessions deleted", ended)
        except Exception:
            logger.exception("maintenance run failed; will try again")
        await asyncio.sleep(MAINTENANCE_EVERY)


async def _end_expired_sessions(app: App) -> int:
    async with app.storage.begin() as unit:
        return await unit.accounts.end_expired(utcnow())


async def _purge(app: App) -> Any:
    retention = timedelta(days=app.settings.retention_days)
    await app.desk.warn_before_retention(retention)
    async with app.storage.begin() as unit:
        purged = await unit.privacy.purge(retention)
    await app.storage.erase_from_files()
    return purged


def health_handler(app: App) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`/healthz`: alive, the database reachable, and what the bot did in the last 24 hours."""
    from aiohttp import web

    async def counts() -> dict[str, int]:
        async with app.storage.begin() as unit:
            return await unit.reports.recent_counts(timedelta(hours=24))

    def _settle(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("health check: database unavailable: %s", type(task.exception()).__name__)

    async def healthz(_request: web.Request) -> web.Response:
        """Alive, the database reachable, and what the bot did in the last 24 hours; 503
        within HEALTH_TIMEOUT_S when the database fails or does not answer. A check that does
        not answer in time is left to finish on its own (the statement timeout ends it): a
        database call cancelled half-way can hang its connection."""
        check = asyncio.ensure_future(counts())
        check.add_done_callback(_settle)
        done, _ = await asyncio.wait({check}, timeout=HEALTH_TIMEOUT_S)
        if not done or check.exception() is not None:
            return web.json_response({"status": "database unavailable"}, status=503)
        return web.json_response({"status": "ok", "last_24h": check.result()})

    return healthz
