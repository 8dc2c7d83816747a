"""Shared fixtures: the shipped FAQ, and real databases (a SQLite file, the local PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import App, Knowledge, build_app, build_knowledge
from bot.config import Settings

POSTGRES_URL = os.environ.get(
    "PORADNA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# Which database the flow tests use: "sqlite" (default) or "postgresql".
FLOW_BACKEND = os.environ.get("PORADNA_TEST_BACKEND", "sqlite")


# Measurements that tests print at the end of the run (accuracy tables).
REPORTS: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for report in REPORTS:
        terminalreporter.write_line(report)


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return build_knowledge(Settings(_env_file=None))


async def _fresh_postgres() -> str:
    """The local PostgreSQL test database, emptied: tests never see each other's rows."""
    admin = create_async_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await admin.dispose()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A real, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'poradna.db'}"
        return
    yield await _fresh_postgres()


def make_settings(database_url: str, **overrides: object) -> Settings:
    # Tests drive many events per second; the flood limit has its own test.
    overrides = {"rate_limit_per_minute": 100_000, **overrides}
    return Settings(_env_file=None, database_url=database_url, **overrides)


@pytest.fixture
async def flow_database_url(tmp_path: Path) -> AsyncIterator[str]:
    if FLOW_BACKEND == "postgresql":
        yield await _fresh_postgres()
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'poradna.db'}"


@pytest.fixture
async def app(flow_database_url: str) -> AsyncIterator[App]:
    application = await build_app(make_settings(flow_database_url), migrate=True)
    yield application
    await application.close()
