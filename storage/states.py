"""The request lifecycle, in one place: which status may follow which.

A callback request is ``new`` until a caseworker claims it; after the caseworker writes it is
``waiting-for-migrant``; when the person answers it is ``answered`` (the caseworker's turn again);
``closed`` ends it. Every status change in the code goes through `allowed_from`, so an impossible
transition is refused as a whole and never half-applied.
"""

from __future__ import annotations

from typing import Final

NEW: Final = "new"
CLAIMED: Final = "claimed"
WAITING: Final = "waiting-for-migrant"
ANSWERED: Final = "answered"
CLOSED: Final = "closed"

STATUSES: Final = (NEW, CLAIMED, WAITING, ANSWERED, CLOSED)
OPEN: Final = (CLAIMED, WAITING, ANSWERED)

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    NEW: frozenset({CLAIMED, CLOSED}),
    CLAIMED: frozenset({WAITING, CLOSED}),
    WAITING: frozenset({ANSWERED, WAITING, CLOSED}),
    ANSWERED: frozenset({WAITING, CLOSED}),
    CLOSED: frozenset(),
}


class InvalidTransitionError(ValueError):
    """A status change the lifecycle does not allow."""

    def __init__(self, reference: str, current: str, target: str) -> None:
        self.reference, self.current, self.target = reference, current, target
        super().__init__(f"{reference} is {current}; it cannot become {target}")


def allowed_from(
    target: str, transitions: dict[str, frozenset[str]] | None = None
) -> tuple[str, ...]:
    """The statuses from which a request (by default a callback request) may move to `target`."""
    table = TRANSITIONS if transitions is None else transitions
    return tuple(source for source, targets in table.items() if target in targets)


# Appointments: requested by the person, confirmed (or re-proposed) by a caseworker, then done,
# cancelled by either side, or a no-show.
REQUESTED: Final = "requested"
CONFIRMED: Final = "confirmed"
DONE: Final = "done"
CANCELLED: Final = "cancelled"
NO_SHOW: Final = "no-show"

APPOINTMENT_STATUSES: Final = (REQUESTED, CONFIRMED, DONE, CANCELLED, NO_SHOW)
APPOINTMENT_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    REQUESTED: frozenset({CONFIRMED, CANCELLED}),
    CONFIRMED: frozenset({CONFIRMED, DONE, CANCELLED, NO_SHOW}),
    DONE: frozenset(),
    CANCELLED: frozenset(),
    NO_SHOW: frozenset(),
}


def appointment_allowed_from(target: str) -> tuple[str, ...]:
    return allowed_from(target, APPOINTMENT_TRANSITIONS)
