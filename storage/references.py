"""The reference codes people and caseworkers quote: ``R-0042`` (a callback request) and
``A-0042`` (an appointment), made from the row's id in one way for both."""

from __future__ import annotations

from enum import StrEnum


class Prefix(StrEnum):
    REQUEST = "R"
    APPOINTMENT = "A"


def reference(prefix: Prefix, row_id: int) -> str:
    """``R-0042`` for request 42: at least four digits, more when the id needs them."""
    return f"{prefix}-{row_id:04d}"


def request_reference(request_id: int) -> str:
    """The reference of a callback request: ``R-0042``."""
    return reference(Prefix.REQUEST, request_id)


def appointment_reference(appointment_id: int) -> str:
    """The reference of an appointment: ``A-0042``."""
    return reference(Prefix.APPOINTMENT, appointment_id)


def normalized(typed: str) -> str:
    """A reference as a person or caseworker typed it, in the stored form: ``r-0042 `` ->
    ``R-0042``."""
    return typed.strip().upper()
