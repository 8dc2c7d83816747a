"""Every status a stored thing can have, and which status may follow which.

A callback request is ``new`` until a caseworker claims it; after the caseworker writes it is
``waiting-for-migrant``; when the person answers it is ``answered`` (the caseworker's turn again);
``closed`` ends it. Every status change in the code goes through `allowed_from`, so an impossible
transition is refused as a whole and never half-applied.

The statuses are `StrEnum`s: stored as their plain string values (the columns are strings, the
values those of every earlier version), compared and printed as strings.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class RequestStatus(StrEnum):
    """A callback request (``R-0042``)."""

    NEW = "new"
    CLAIMED = "claimed"
    WAITING = "waiting-for-migrant"
    ANSWERED = "answered"
    CLOSED = "closed"


class AppointmentStatus(StrEnum):
    """An appointment (``A-0042``): requested by the person, confirmed (or re-proposed) by a
    caseworker, then done, cancelled by either side, or a no-show."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    DONE = "done"
    CANCELLED = "cancelled"
    NO_SHOW = "no-show"


class StaffRole(StrEnum):
    """What a member of staff may do in the web console: caseworkers work the queue,
    coordinators also edit canned replies and read the FAQ status and reports, admins also
    manage accounts."""

    CASEWORKER = "caseworker"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(StaffRole).index(self)


class OutboxStatus(StrEnum):
    """A message in the outbox."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


# A case with a caseworker: the person's text goes to them.
OPEN: Final = (RequestStatus.CLAIMED, RequestStatus.WAITING, RequestStatus.ANSWERED)

TRANSITIONS: Final[dict[RequestStatus, frozenset[RequestStatus]]] = {
    RequestStatus.NEW: frozenset({RequestStatus.CLAIMED, RequestStatus.CLOSED}),
    RequestStatus.CLAIMED: frozenset({RequestStatus.WAITING, RequestStatus.CLOSED}),
    RequestStatus.WAITING: frozenset(
        {RequestStatus.ANSWERED, RequestStatus.WAITING, RequestStatus.CLOSED}
    ),
    RequestStatus.ANSWERED: frozenset({RequestStatus.WAITING, RequestStatus.CLOSED}),
    RequestStatus.CLOSED: frozenset(),
}

APPOINTMENT_TRANSITIONS: Final[dict[AppointmentStatus, frozenset[AppointmentStatus]]] = {
    AppointmentStatus.REQUESTED: frozenset(
        {AppointmentStatus.CONFIRMED, AppointmentStatus.CANCELLED}
    ),
    AppointmentStatus.CONFIRMED: frozenset(
        {
            AppointmentStatus.CONFIRMED,
            AppointmentStatus.DONE,
            AppointmentStatus.CANCELLED,
            AppointmentStatus.NO_SHOW,
        }
    ),
    AppointmentStatus.DONE: frozenset(),
    AppointmentStatus.CANCELLED: frozenset(),
    AppointmentStatus.NO_SHOW: frozenset(),
}
# Appointments still to happen (a /forget or retention cancels them).
OPEN_APPOINTMENTS: Final = (AppointmentStatus.REQUESTED, AppointmentStatus.CONFIRMED)
FINISHED_APPOINTMENTS: Final = (
    AppointmentStatus.DONE,
    AppointmentStatus.CANCELLED,
    AppointmentStatus.NO_SHOW,
)


class InvalidTransitionError(ValueError):
    """A status change the lifecycle does not allow."""

    def __init__(self, reference: str, current: str, target: str) -> None:
        self.reference, self.current, self.target = reference, current, target
        super().__init__(f"{reference} is {current}; it cannot become {target}")


def allowed_from(target: RequestStatus) -> tuple[RequestStatus, ...]:
    """The statuses from which a callback request may move to `target`."""
    return tuple(source for source, targets in TRANSITIONS.items() if target in targets)


def appointment_allowed_from(target: AppointmentStatus) -> tuple[AppointmentStatus, ...]:
    """The statuses from which an appointment may move to `target`."""
    return tuple(
        source for source, targets in APPOINTMENT_TRANSITIONS.items() if target in targets
    )
