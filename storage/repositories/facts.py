"""What the coordinators and funders learn from: anonymous interactions, unanswered questions,
and the exact consent texts people agreed to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConsentText, Interaction, UnansweredQuestion, utcnow
from storage.repositories._base import insert_once

if TYPE_CHECKING:
    from storage.unit import Unit


_ADD_INTERACTION = insert(Interaction)


_ADD_UNANSWERED = insert(UnansweredQuestion)


class InteractionRepository:
    """Anonymous facts for reports: who (a random key), what kind, which topic, language, when."""

    def __init__(self, unit: Unit) -> None:
        self._connection = unit.connection

    async def add(
        self, *, person_key: str, channel: str, kind: str, lang: str, topic: str | None = None
    ) -> None:
        await self._connection.execute(
            _ADD_INTERACTION,
            {
                "person_key": person_key,
                "channel": channel,
                "kind": kind,
                "lang": lang,
                "topic": topic,
            },
        )


class UnansweredRepository:
    def __init__(self, unit: Unit) -> None:
        self._connection = unit.connection

    async def add(
        self,
        *,
        user_id: int | None,
        text: str,
        lang: str,
        reason: str,
        best_topic: str | None,
        best_score: int,
    ) -> None:
        await self._connection.execute(
            _ADD_UNANSWERED,
            {
                "user_id": user_id,
                "text": text,
                "lang": lang,
                "reason": reason,
                "best_topic": best_topic,
                "best_score": best_score,
            },
        )

    async def list_questions(self) -> list[dict[str, Any]]:
        q = UnansweredQuestion
        rows = await self._connection.execute(
            select(q.text, q.lang, q.reason, q.best_topic, q.created_at.label("created")).order_by(
                q.id
            )
        )
        return [dict(row) for row in rows.mappings()]


class ConsentRepository:
    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    @property
    def _session(self) -> AsyncSession:
        return self._unit.orm()

    async def record(self, version: str, lang: str, text: str) -> None:
        """Keep the exact consent text of this version and language (once)."""
        values = {"version": version, "lang": lang, "text": text, "created_at": utcnow()}
        await insert_once(self._unit.connection, ConsentText, values)

    async def text(self, version: str, lang: str) -> str | None:
        return await self._session.scalar(
            select(ConsentText.text).where(
                ConsentText.version == version, ConsentText.lang == lang
            )
        )
