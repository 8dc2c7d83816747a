"""Engine and session factory, and the Alembic schema migrations run from code."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import aiosqlite
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.errors import SchemaOutdatedError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

logger = logging.getLogger(__name__)

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
T = TypeVar("T")


# How long a SQLite statement waits for another process's write lock (the `poradna queue`
# commands, say) before the turn fails politely. Short, because the wait holds the event loop.
SQLITE_BUSY_TIMEOUT_S: Final = 5
# How long a PostgreSQL connect or statement may take before the turn fails (DATABASE_TIMEOUT).
DATABASE_TIMEOUT_S: Final = 5.0


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


class InlineSqliteConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs each call on the event loop's own thread.

    aiosqlite hands every call (cursor, execute, fetch, close, commit) to a worker thread and
    waits for the answer: about 40 thread hand-overs per message here, which cost several
    times more than SQLite's own work (tens of microseconds per statement in WAL mode without
    an fsync per commit). Running them inline doubled the engine's throughput in `bench/`.
    The price: while SQLite waits for another process's write lock, the event loop waits too
    (at most SQLITE_BUSY_TIMEOUT_S), which is why several bot processes need PostgreSQL.
    """

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._open().__await__()

    async def _open(self) -> InlineSqliteConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stop(self) -> None:  # type: ignore[override]
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _inline_sqlite(database: str, **kwargs: Any) -> InlineSqliteConnection:
    def connector() -> Any:
        import sqlite3  # noqa: PLC0415 (the standard driver, only for this backend)

        return sqlite3.connect(database, **kwargs)

    return InlineSqliteConnection(connector, iter_chunk_size=64)


def create_engine(url: str, *, timeout: float = DATABASE_TIMEOUT_S) -> AsyncEngine:
    """An async engine. SQLite gets foreign keys, WAL, a busy timeout and inline calls;
    PostgreSQL a connect, statement and pool timeout of `timeout` seconds.

    SQL parameters (phone numbers, questions) are never written into error messages, which end
    up in logs, aiogram's included.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            hide_parameters=True,
            # One connection: SQLite has one writer anyway, and with calls inline a second
            # connection waiting for the write lock would hold the event loop (and with it the
            # turn that holds the lock). Turns queue for the connection instead.
            pool_size=1,
            max_overflow=0,
            connect_args={
                "timeout": SQLITE_BUSY_TIMEOUT_S,
                "check_same_thread": False,
                "async_creator_fn": _inline_sqlite,
            },
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives the process being killed at any moment; only a
            # power cut or kernel crash can lose the last commits (the file stays consistent).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            # Erased personal data (/forget, retention) is overwritten with zeros in the file,
            # not left in free pages for anyone who reads the file.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    # A database that stops answering (a silent partition) must fail the turn in bounded time,
    # so that the person gets the storage-down reply and Telegram hears about the update well
    # before its webhook gives up: connecting, every statement, and waiting for a pooled
    # connection each give up after `timeout` seconds (asyncio's TimeoutError, an OSError).
    return create_async_engine(
        url,
        pool_pre_ping=True,
        hide_parameters=True,
        pool_timeout=timeout,
        connect_args={"timeout": timeout, "command_timeout": timeout},
    )


async def erase_from_files(engine: AsyncEngine) -> None:
    """After personal data was erased: on SQLite, copy the write-ahead log into the database
    file and truncate it, so the erased phones and texts are not left in the log until the
    next automatic checkpoint (the file itself is zeroed by `secure_delete`)."""
    if engine.dialect.name != "sqlite":
        return
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception as exc:  # the erasure is committed; the next checkpoint completes it
        logger.error("write-ahead log not checkpointed after an erasure: %s", type(exc).__name__)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


class Unit:
    """One transaction on one connection, for a conversation turn.

    The statements of every message (`StateRepository` and the like) run on the connection
    itself, as SQLAlchemy Core. The ORM session that a few turns need (a request, an
    appointment, a caseworker to notify) joins the same transaction and is opened only then:
    opening, committing and closing a session for every message cost about a tenth of the
    engine's time in `bench/`.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self._session: AsyncSession | None = None

    def session(self) -> AsyncSession:
        """An ORM session in this unit's transaction. It never commits: the unit does."""
        if self._session is None:
            self._session = AsyncSession(
                bind=self.connection, expire_on_commit=False, join_transaction_mode="rollback_only"
            )
        return self._session

    async def _flush(self) -> None:
        if self._session is not None:
            await self._session.flush()

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@contextlib.asynccontextmanager
async def unit_of_work(engine: AsyncEngine) -> AsyncIterator[Unit]:
    """A `Unit` committed when the block ends, rolled back when it raises."""
    async with engine.begin() as connection:
        unit = Unit(connection)
        try:
            yield unit
            await unit._flush()
        finally:
            await unit._close()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply pending migrations on `engine`."""

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
