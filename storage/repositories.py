"""Repositories: they take a session, never commit, and return DTOs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import CallbackDto, StateDto, UserDto
from storage.models import CallbackRequest, ConversationState, UnansweredQuestion, User, utcnow


class StaleStateError(RuntimeError):
    """Another message of the same user changed the conversation first; handle it again."""


def reference_for(request_id: int) -> str:
    """The reference code a migrant quotes: ``R-0042``."""
    return f"R-{request_id:04d}"


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_or_create(self, channel: str, external_id: str) -> UserDto:
        """The user, created on first contact (safe when two first messages race)."""
        dialect = self._session.get_bind().dialect.name
        values = {
            "channel": channel,
            "external_id": external_id,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
        if dialect == "postgresql":
            stmt = pg_insert(User).values(**values).on_conflict_do_nothing()
        else:
            stmt = sqlite_insert(User).values(**values).on_conflict_do_nothing()
        await self._session.execute(stmt)
        user = await self._session.scalar(
            select(User).where(User.channel == channel, User.external_id == external_id)
        )
        assert user is not None
        return _user_dto(user)

    async def set_lang(self, user_id: int, lang: str) -> None:
        await self._session.execute(
            update(User).where(User.id == user_id).values(lang=lang, updated_at=utcnow())
        )

    async def mark_switch_offered(self, user_id: int) -> None:
        await self._session.execute(
            update(User).where(User.id == user_id).values(switch_offered=True, updated_at=utcnow())
        )


class StateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def load(self, user_id: int) -> StateDto:
        row = await self._session.get(ConversationState, user_id, populate_existing=True)
        if row is None:
            return StateDto(step="new", data={}, version=0)
        return StateDto(step=row.step, data=dict(row.data or {}), version=row.version)

    async def save(self, user_id: int, step: str, data: dict[str, Any], version: int) -> None:
        """Store the new state if nobody changed it since `version` was read."""
        if version == 0:
            try:
                async with self._session.begin_nested():
                    await self._session.execute(
                        insert(ConversationState).values(
                            user_id=user_id, step=step, data=data, version=1, updated_at=utcnow()
                        )
                    )
            except IntegrityError as exc:
                raise StaleStateError(user_id) from exc
            return
        result = await self._session.execute(
            update(ConversationState)
            .where(ConversationState.user_id == user_id, ConversationState.version == version)
            .values(step=step, data=data, version=version + 1, updated_at=utcnow())
        )
        if result.rowcount != 1:
            raise StaleStateError(user_id)


class CallbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        *,
        user_id: int,
        lang: str,
        topic_id: str | None,
        phone: str,
        preferred_time: str,
        question: str | None,
        consent_at: datetime,
    ) -> CallbackDto:
        request = CallbackRequest(
            user_id=user_id,
            lang=lang,
            topic_id=topic_id,
            phone=phone,
            preferred_time=preferred_time,
            question=question,
            consent_at=consent_at,
            status="new",
        )
        self._session.add(request)
        await self._session.flush()
        request.reference = reference_for(request.id)
        await self._session.flush()
        return _callback_dto(request)

    async def list_requests(self, status: str | None = None) -> list[CallbackDto]:
        stmt = select(CallbackRequest).order_by(CallbackRequest.id)
        if status:
            stmt = stmt.where(CallbackRequest.status == status)
        return [_callback_dto(r) for r in await self._session.scalars(stmt)]


class UnansweredRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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
        self._session.add(
            UnansweredQuestion(
                user_id=user_id,
                text=text,
                lang=lang,
                reason=reason,
                best_topic=best_topic,
                best_score=best_score,
            )
        )

    async def list_questions(self) -> list[dict[str, Any]]:
        rows = await self._session.scalars(
            select(UnansweredQuestion).order_by(UnansweredQuestion.id)
        )
        return [
            {
                "text": r.text,
                "lang": r.lang,
                "reason": r.reason,
                "best_topic": r.best_topic,
                "created": r.created_at,
            }
            for r in rows
        ]


def _user_dto(user: User) -> UserDto:
    return UserDto(
        id=user.id,
        channel=user.channel,
        external_id=user.external_id,
        lang=user.lang,
        switch_offered=user.switch_offered,
    )


def _callback_dto(r: CallbackRequest) -> CallbackDto:
    assert r.reference is not None
    return CallbackDto(
        id=r.id,
        reference=r.reference,
        status=r.status,
        lang=r.lang,
        topic_id=r.topic_id,
        phone=r.phone,
        preferred_time=r.preferred_time,
        question=r.question,
        created_at=r.created_at,
    )
