"""The unit of work: one transaction, and every repository on it.

Every use case (a conversation turn, a caseworker's action, an outbox round, a CLI command)
opens one unit from the composition root's `Storage`, works through the unit's repositories
(`unit.states`, `unit.requests`, `unit.outbox`, ...) and is committed when its block ends, or
rolled back as a whole when it raises. No caller handles a connection or a session.

Inside, the statements of every message (`StateRepository` and the like) run on the unit's
connection as SQLAlchemy Core; the ORM session that a few repositories need (a request, an
appointment, a caseworker) joins the same transaction and is opened only when one of them is
first used: opening, committing and closing a session for every message cost about a tenth of
the engine's time in `bench/`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from storage.db import erase_from_files
from storage.privacy import PrivacyRepository
from storage.reports import ReportRepository
from storage.repositories import (
    AppointmentRepository,
    CallbackRepository,
    ConsentRepository,
    InteractionRepository,
    OutboxRepository,
    RateRepository,
    StaffRepository,
    StateRepository,
    UnansweredRepository,
    UpdateRepository,
    UserRepository,
)


class Unit:
    """One transaction on one connection, with its repositories. It never commits itself:
    `Storage.begin` does, when the block ends."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection  # for the repositories
        self._session: AsyncSession | None = None

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name

    def orm(self) -> AsyncSession:
        """The ORM session in this unit's transaction, for the repositories."""
        if self._session is None:
            self._session = AsyncSession(
                bind=self.connection, expire_on_commit=False, join_transaction_mode="rollback_only"
            )
        return self._session

    # The repositories, each made when first used.

    @cached_property
    def states(self) -> StateRepository:
        return StateRepository(self)

    @cached_property
    def users(self) -> UserRepository:
        return UserRepository(self)

    @cached_property
    def requests(self) -> CallbackRepository:
        return CallbackRepository(self)

    @cached_property
    def appointments(self) -> AppointmentRepository:
        return AppointmentRepository(self)

    @cached_property
    def staff(self) -> StaffRepository:
        return StaffRepository(self)

    @cached_property
    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self)

    @cached_property
    def updates(self) -> UpdateRepository:
        return UpdateRepository(self)

    @cached_property
    def rates(self) -> RateRepository:
        return RateRepository(self)

    @cached_property
    def interactions(self) -> InteractionRepository:
        return InteractionRepository(self)

    @cached_property
    def unanswered(self) -> UnansweredRepository:
        return UnansweredRepository(self)

    @cached_property
    def consents(self) -> ConsentRepository:
        return ConsentRepository(self)

    @cached_property
    def privacy(self) -> PrivacyRepository:
        return PrivacyRepository(self)

    @cached_property
    def reports(self) -> ReportRepository:
        return ReportRepository(self)

    async def _flush(self) -> None:
        if self._session is not None:
            await self._session.flush()

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class Storage:
    """Where every unit of work comes from: one per process, made by the composition root."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[Unit]:
        """A unit committed when the block ends, rolled back when it raises."""
        async with self.engine.begin() as connection:
            unit = Unit(connection)
            try:
                yield unit
                await unit._flush()
            finally:
                await unit._close()

    async def erase_from_files(self) -> None:
        """After an erasure: leave no erased data in SQLite's write-ahead log."""
        await erase_from_files(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()
