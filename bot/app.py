"""The composition root: settings in, a wired application out. Used by the CLI and the tests.

Storage comes from here only: `open_storage` makes the one `Storage` of a process (its engine,
its schema checked or migrated), from which the engine, the desk, the outbox sender, the content
watcher, the scheduler and every CLI command open their units of work.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.knowledge import Knowledge, build_knowledge
from faq.offices import load_offices
from flows.desk import Desk
from flows.engine import Engine
from storage.db import create_engine
from storage.migrate import ensure_schema
from storage.unit import Storage

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.config import Settings


@dataclass
class App:
    settings: Settings
    knowledge: Knowledge
    storage: Storage
    engine: Engine
    desk: Desk

    @property
    def db(self) -> AsyncEngine:
        """The database engine under `storage` (for measurements and fault tests)."""
        return self.storage.engine

    async def close(self) -> None:
        await self.storage.dispose()


async def open_storage(settings: Settings, *, migrate: bool | None = None) -> Storage:
    """The process's storage. `migrate` defaults to applying migrations on embedded SQLite
    only; elsewhere an outdated schema is refused with a clear message."""
    db = create_engine(settings.database_url, timeout=settings.database_timeout)
    try:
        await ensure_schema(db, apply=settings.is_sqlite if migrate is None else migrate)
    except BaseException:
        await db.dispose()
        raise
    return Storage(db)


@contextlib.asynccontextmanager
async def storage_for(settings: Settings) -> AsyncIterator[Storage]:
    """`open_storage` for one command, disposed of when it is done."""
    storage = await open_storage(settings)
    try:
        yield storage
    finally:
        await storage.dispose()


async def build_app(settings: Settings, *, migrate: bool | None = None) -> App:
    """Wire everything. `migrate` defaults to applying migrations on embedded SQLite only."""
    knowledge = build_knowledge(settings)
    storage = await open_storage(settings, migrate=migrate)
    offices = load_offices(settings.offices_file)
    engine = Engine(
        faq=knowledge.faq,
        understanding=knowledge.understanding,
        locales=knowledge.locales,
        storage=storage,
        retention_days=settings.retention_days,
        crisis_contacts=settings.crisis_contacts,
        default_lang=settings.default_language,
        staff_lang=settings.staff_language,
        offices=offices,
        rate_limit=settings.rate_limit_per_minute,
        unlimited_channels=("console",),  # one local person, often piping many lines
        human_agent_days=settings.messenger_human_agent_days,
    )
    desk = Desk(
        storage=storage,
        locales=knowledge.locales,
        staff_lang=settings.staff_language,
        offices={office.id: office for office in offices},
        sla_minutes=settings.sla_minutes,
        urgent_sla_minutes=settings.urgent_sla_minutes,
    )
    return App(settings=settings, knowledge=knowledge, storage=storage, engine=engine, desk=desk)
