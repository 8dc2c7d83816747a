"""The case thread: every message of a request (``R-0042`` or ``A-0042``), person and
caseworker, in order. Media are kept only as the channel's file id, never the file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from sqlalchemy import bindparam, insert, select

from storage.dto import ThreadEntryDto
from storage.models import CaseMessage, utcnow

if TYPE_CHECKING:
    from storage.unit import Unit

Author = Literal["person", "staff"]
PERSON: Final = "person"
STAFF: Final = "staff"

_ADD = insert(CaseMessage)
_COLUMNS = (
    CaseMessage.reference,
    CaseMessage.author,
    CaseMessage.text,
    CaseMessage.channel,
    CaseMessage.created_at,
    CaseMessage.staff_id,
    CaseMessage.media_kind,
    CaseMessage.media_ref,
)
_OF = select(*_COLUMNS).where(CaseMessage.reference == bindparam("reference"))


class ThreadRepository:
    """Core statements on the unit's connection: a relayed message is part of a turn."""

    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    async def add(
        self,
        reference: str,
        author: Author,
        *,
        channel: str,
        text: str | None = None,
        media_kind: str | None = None,
        media_ref: str | None = None,
        staff_id: int | None = None,
    ) -> None:
        await self._unit.connection.execute(
            _ADD,
            {
                "reference": reference,
                "author": author,
                "channel": channel,
                "text": text,
                "media_kind": media_kind,
                "media_ref": media_ref,
                "staff_id": staff_id,
                "created_at": utcnow(),
            },
        )

    async def of(self, reference: str) -> list[ThreadEntryDto]:
        """The thread of a request, oldest first (newest last)."""
        rows = await self._unit.connection.execute(
            _OF.order_by(CaseMessage.id), {"reference": reference}
        )
        return [ThreadEntryDto(*row) for row in rows]

    async def last_from_staff(self, reference: str) -> ThreadEntryDto | None:
        """The caseworker's latest message in a thread, if they wrote."""
        rows = await self._unit.connection.execute(
            _OF.where(CaseMessage.author == STAFF).order_by(CaseMessage.id.desc()).limit(1),
            {"reference": reference},
        )
        row = rows.first()
        return ThreadEntryDto(*row) if row else None
