"""Repositories, one module per aggregate. They never commit and return DTOs; each is reached
through a unit of work (`storage.unit.Unit`: ``unit.states``, ``unit.requests``, ...), which
gives it the connection or the ORM session it needs."""

from storage.repositories.appointments import AppointmentRepository
from storage.repositories.console import (
    AccountRepository,
    AuditRepository,
    CannedRepository,
    NoteRepository,
    QueueRepository,
)
from storage.repositories.facts import (
    ConsentRepository,
    InteractionRepository,
    UnansweredRepository,
)
from storage.repositories.outbox import OutboxRepository
from storage.repositories.people import (
    NOT_STARTED,
    StaleStateError,
    StateRepository,
    UserRepository,
)
from storage.repositories.rates import RateRepository
from storage.repositories.requests import CallbackRepository
from storage.repositories.staff import StaffRepository
from storage.repositories.threads import ThreadRepository
from storage.repositories.updates import UpdateRepository

__all__ = [
    "NOT_STARTED",
    "AccountRepository",
    "AppointmentRepository",
    "AuditRepository",
    "CallbackRepository",
    "CannedRepository",
    "ConsentRepository",
    "InteractionRepository",
    "NoteRepository",
    "OutboxRepository",
    "QueueRepository",
    "RateRepository",
    "StaffRepository",
    "StaleStateError",
    "StateRepository",
    "ThreadRepository",
    "UnansweredRepository",
    "UpdateRepository",
    "UserRepository",
]
