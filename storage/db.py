"""The database engine: SQLite (embedded, the default) or PostgreSQL, and what follows an
erasure on SQLite. Units of work on it come from `storage.unit.Storage`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.sqlite import SQLITE_BUSY_TIMEOUT_S, inline_sqlite, set_pragmas

logger = logging.getLogger(__name__)

# How long a PostgreSQL connect or statement may take before the turn fails (DATABASE_TIMEOUT).
DATABASE_TIMEOUT_S: Final = 5.0


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
                "async_creator_fn": inline_sqlite,
            },
        )
        event.listen(engine.sync_engine, "connect", set_pragmas)
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
