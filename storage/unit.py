"""The unit of work: one transaction, and every repository on it.

Every use case (a conversation turn, a caseworker's action, an outbox round, a CLI command)
opens one unit from the composition root's `Storage`, works through the unit's repositories
(`unit.states`, `unit.requests`, `unit.outbox`, `unit.threads`, ...) and is committed when its
block ends, or rolled back as a whole when it raises. No caller handles a connection or a session.

Inside, the statements of every message (`StateRepository` and the like) run on the unit's
connection as SQLAlchemy Core; the ORM session that a few repositories need (a request, an
appointment, a caseworker) joins the same transaction and is opened only when one of them is
first used: opening, committing and closing a session for every message cost about a tenth of
the engine's time in `bench/`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from storage.db import erase_from_files
from storage.privacy import PrivacyRepository
from storage.reports import ReportRepository
from storage.repositories import (
    AccountRepository,
    AppointmentRepository,
    AuditRepository,
    CallbackRepository,
    CannedRepository,
    ConsentRepository,
    InteractionRepository,
    NoteRepository,
    OutboxRepository,
    QueueRepository,
    RateRepository,
    StaffRepository,
    StateRepository,
    ThreadRepository,
    UnansweredRepository,
    UpdateRepository,
    UserRepository,
)


class _Repository(Protocol):
    def __init__(self, unit: Any, /) -> None: ...


R = TypeVar("R", bound=_Repository)


class StorageDownError(RuntimeError):
    """Storage was used on the unit that stores nothing (`Unit.nothing`)."""


class Unit:
    """One transaction on one connection, with its repositories. It never commits itself:
    `Storage.begin` does, when the block ends."""

    def __init__(self, connection: AsyncConnection | None) -> None:
        self._connection = connection
        self._session: AsyncSession | None = None
        self._repositories: dict[type, object] = {}

    @classmethod
    def nothing(cls) -> Unit:
        """A unit that stores nothing, for the turns served while storage is failing: any use
        of a repository raises `StorageDownError` (the turn then gets the busy reply)."""
        return cls(None)

    @property
    def connection(self) -> AsyncConnection:
        """The unit's connection, for the repositories."""
        if self._connection is None:
            raise StorageDownError("this unit stores nothing")
        return self._connection

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

    def _get(self, kind: type[R]) -> R:
        repository = self._repositories.get(kind)
        if repository is None:
            repository = self._repositories[kind] = kind(self)
        return cast(R, repository)

    # The repositories, each made when first used.

    @property
    def states(self) -> StateRepository:
        return self._get(StateRepository)

    @property
    def users(self) -> UserRepository:
        return self._get(UserRepository)

    @property
    def requests(self) -> CallbackRepository:
        return self._get(CallbackRepository)

    @property
    def appointments(self) -> AppointmentRepository:
        return self._get(AppointmentRepository)

    @property
    def staff(self) -> StaffRepository:
        return self._get(StaffRepository)

    @property
    def outbox(self) -> OutboxRepository:
        return self._get(OutboxRepository)

    @property
    def threads(self) -> ThreadRepository:
        return self._get(ThreadRepository)

    @property
    def updates(self) -> UpdateRepository:
        return self._get(UpdateRepository)

    @property
    def rates(self) -> RateRepository:
        return self._get(RateRepository)

    @property
    def interactions(self) -> InteractionRepository:
        return self._get(InteractionRepository)

    @property
    def unanswered(self) -> UnansweredRepository:
        return self._get(UnansweredRepository)

    @property
    def consents(self) -> ConsentRepository:
        return self._get(ConsentRepository)

    @property
    def privacy(self) -> PrivacyRepository:
        return self._get(PrivacyRepository)

    @property
    def reports(self) -> ReportRepository:
        return self._get(ReportRepository)

    # The web console's.

    @property
    def accounts(self) -> AccountRepository:
        return self._get(AccountRepository)

    @property
    def notes(self) -> NoteRepository:
        return self._get(NoteRepository)

    @property
    def audit(self) -> AuditRepository:
        return self._get(AuditRepository)

    @property
    def canned(self) -> CannedRepository:
        return self._get(CannedRepository)

    @property
    def queue(self) -> QueueRepository:
        return self._get(QueueRepository)

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
