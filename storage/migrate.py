"""The Alembic schema migrations, run from code (`poradna db upgrade`, tests, embedded SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.errors import SchemaOutdatedError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply pending migrations on `engine` (up to `revision`)."""

    def _run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    def _run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


async def current_revision(engine: AsyncEngine) -> str | None:
    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def ensure_schema(engine: AsyncEngine, *, apply: bool) -> None:
    """Make sure the schema is current: apply migrations, or refuse with a clear message."""
    if apply:
        await upgrade(engine)
        return
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutdatedError(
            f"the database schema is at revision {current or 'none'}, this Poradna needs {head}: "
            "run `poradna db upgrade` first"
        )
