"""SQLite, the embedded default: an aiosqlite connection that runs its calls inline, and the
pragmas every connection gets."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator
from typing import Any, Final

import aiosqlite

# How long a SQLite statement waits for another process's write lock (the `poradna queue`
# commands, say) before the turn fails politely. Short, because the wait holds the event loop.
SQLITE_BUSY_TIMEOUT_S: Final = 5


class InlineSqliteConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs each call on the event loop's own thread.

    aiosqlite hands every call (cursor, execute, fetch, close, commit) to a worker thread and
    waits for the answer: about 40 thread hand-overs per message here, which cost several
    times more than SQLite's own work (tens of microseconds per statement in WAL mode without
    an fsync per commit). Running them inline doubled the engine's throughput in `bench/`.
    The price: while SQLite waits for another process's write lock, the event loop waits too
    (at most SQLITE_BUSY_TIMEOUT_S), which is why several bot processes need PostgreSQL.

    It relies on aiosqlite 0.22's internals (`_connector`, `_connection`, `_running`,
    `_execute`), hence the pin in pyproject.toml.
    """

    def __await__(self) -> Generator[Any, None, InlineSqliteConnection]:
        return self._open().__await__()

    async def _open(self) -> InlineSqliteConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def inline_sqlite(database: str, **kwargs: Any) -> InlineSqliteConnection:
    """SQLAlchemy's `async_creator_fn` for SQLite: an inline connection to `database`."""

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return connection

    return InlineSqliteConnection(connector, iter_chunk_size=64)


def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The `connect` event of every SQLite connection."""
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
