"""The flood limit: how many events one sender may make in a minute.

With one process (SQLite, the console) the events are counted in memory over the last 60
seconds. On PostgreSQL several instances may serve one person, so each event is counted in the
database (`unit.rates`), per minute, and every instance sees the same count.
"""

from __future__ import annotations

import collections
import logging
import time
from enum import Enum
from typing import TYPE_CHECKING, Final

from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from storage.unit import Storage, Unit

logger = logging.getLogger(__name__)

WINDOW: Final = 60.0
MEMORY_KEYS: Final = 10_000


class Verdict(Enum):
    OK = "ok"
    NOTICE = "notice"  # the first event over the limit: say so, once
    SILENT = "silent"  # later ones: nothing until the minute has passed


class FloodLimit:
    def __init__(self, limit: int | None, storage: Storage | None = None) -> None:
        """`storage`: count in this database (every instance on it shares the count); else in
        memory."""
        self._limit = limit
        self._storage = storage
        self._recent: dict[str, collections.deque[float]] = {}
        self._noticed: set[str] = set()

    @property
    def shared(self) -> bool:
        """Counted in the database (several instances), not in this process's memory."""
        return self._storage is not None

    async def check(self, key: str, limit: int | None = None) -> Verdict:
        """Count one event of `key` and judge it against `limit` (default: the configured
        one) events a minute."""
        limit = self._limit if limit is None else limit
        if limit is None:
            return Verdict.OK
        return self._judge(key, await self._count(key), limit)

    async def check_in(self, unit: Unit, key: str) -> Verdict:
        """`check`, counted in the caller's transaction (a shared limit only). The counter's
        row stays locked until that transaction ends: a person's turns on several instances
        then run one after the other instead of racing on the conversation state."""
        assert self._storage is not None
        if self._limit is None:
            return Verdict.OK
        count = await unit.rates.hit(key, int(time.time() // WINDOW))
        return self._judge(key, count, self._limit)

    def _judge(self, key: str, count: int, limit: int) -> Verdict:
        if count <= limit:
            self._noticed.discard(key)
            return Verdict.OK
        if self._storage is not None:
            return Verdict.NOTICE if count == limit + 1 else Verdict.SILENT
        if key in self._noticed:
            return Verdict.SILENT
        self._noticed.add(key)
        return Verdict.NOTICE

    async def _count(self, key: str) -> int:
        if self._storage is not None:
            try:
                async with self._storage.begin() as unit:
                    return await unit.rates.hit(key, int(time.time() // WINDOW))
            except (SQLAlchemyError, OSError) as exc:
                # Storage failing: the turn gets the storage-down reply anyway; a flood limit
                # that cannot count lets the event through rather than silence a person.
                logger.error("flood limit not counted: %s", type(exc).__name__)
                return 0
        now = time.monotonic()
        recent = self._recent.setdefault(key, collections.deque())
        while recent and now - recent[0] > WINDOW:
            recent.popleft()
        recent.append(now)
        if len(self._recent) > MEMORY_KEYS:
            for other in [k for k, v in self._recent.items() if now - v[-1] > WINDOW]:
                del self._recent[other]
                self._noticed.discard(other)
        return len(recent)
