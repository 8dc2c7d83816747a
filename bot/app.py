"""The composition root: settings in, a wired application out. Used by the CLI and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.knowledge import Knowledge, build_knowledge
from faq.offices import load_offices
from flows.desk import Desk
from flows.engine import Engine
from storage.db import create_engine, create_sessionmaker, ensure_schema

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from bot.config import Settings


@dataclass
class App:
    settings: Settings
    knowledge: Knowledge
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    engine: Engine
    desk: Desk

    async def close(self) -> None:
        await self.db.dispose()


async def build_app(settings: Settings, *, migrate: bool | None = None) -> App:
    """Wire everything. `migrate` defaults to applying migrations on embedded SQLite only."""
    knowledge = build_knowledge(settings)
    db = create_engine(settings.database_url, timeout=settings.database_timeout)
    try:
        await ensure_schema(db, apply=settings.is_sqlite if migrate is None else migrate)
    except BaseException:
        await db.dispose()
        raise
    sessions = create_sessionmaker(db)
    offices = load_offices(settings.offices_file)
    engine = Engine(
        faq=knowledge.faq,
        matcher=knowledge.matcher,
        locales=knowledge.locales,
        db=db,
        retention_days=settings.retention_days,
        crisis_contacts=settings.crisis_contacts,
        default_lang=settings.default_language,
        staff_lang=settings.staff_language,
        offices=offices,
        rate_limit=settings.rate_limit_per_minute,
        unlimited_channels=("console",),  # one local person, often piping many lines
    )
    desk = Desk(
        sessions=sessions,
        locales=knowledge.locales,
        staff_lang=settings.staff_language,
        offices={office.id: office for office in offices},
        sla_minutes=settings.sla_minutes,
        urgent_sla_minutes=settings.urgent_sla_minutes,
    )
    return App(
        settings=settings, knowledge=knowledge, db=db, sessions=sessions, engine=engine, desk=desk
    )
