"""A person and where their conversation is: what every message reads and writes.

The statements of every message are built once: building a SQLAlchemy statement costs more than
SQLite takes to run it. They are plain Core statements on the unit's connection, no ORM
bookkeeping. Their bind parameters for columns that the statement also sets or compares end in
an underscore (``user_id_``, ``step_``): SQLAlchemy reserves a column's own name for the bind
parameter it makes itself in an UPDATE's SET and WHERE clauses, and refuses the statement."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dto import StateDto, UserDto
from storage.models import CallbackRequest, ConversationState, User, utcnow
from storage.repositories._base import insert_once
from storage.states import OPEN

if TYPE_CHECKING:
    from storage.unit import Unit


# The step of a person who never wrote (the flows' `Step.NEW`): storage keeps steps as strings.
NOT_STARTED: Final = "new"


class StaleStateError(RuntimeError):
    """Another message of the same user changed the conversation first; handle it again."""


# The reference of the person's open case (claimed, not closed): their text goes to its
# caseworker. Read with the state, since every text message needs it.
_OPEN_CASE = (
    select(CallbackRequest.reference)
    .where(CallbackRequest.user_id == User.id, CallbackRequest.status.in_(OPEN))
    .order_by(CallbackRequest.id.desc())
    .limit(1)
    .correlate(User)
    .scalar_subquery()
)


_USER_AND_STATE = (
    select(
        User.id,
        User.channel,
        User.external_id,
        User.lang,
        User.switch_offered,
        User.person_key,
        ConversationState.step,
        ConversationState.data,
        ConversationState.version,
        _OPEN_CASE.label("open_case"),
    )
    .outerjoin(ConversationState, ConversationState.user_id == User.id)
    .where(User.channel == bindparam("channel"), User.external_id == bindparam("external_id"))
)


_SAVE_STATE = (
    update(ConversationState)
    .where(
        ConversationState.user_id == bindparam("user_id_"),
        ConversationState.version == bindparam("version_"),
    )
    .values(
        step=bindparam("step_"),
        data=bindparam("data_", type_=ConversationState.data.type),
        version=bindparam("version_") + 1,
        updated_at=bindparam("now_"),
    )
)


_NEW_STATE = insert(ConversationState)


_SET_LANG = (
    update(User)
    .where(User.id == bindparam("user_id_"))
    .values(lang=bindparam("lang_"), updated_at=bindparam("now_"))
)


_SWITCH_OFFERED = (
    update(User)
    .where(User.id == bindparam("user_id_"))
    .values(switch_offered=True, updated_at=bindparam("now_"))
)


class StateRepository:
    """A person and where their conversation is: what every message reads and writes."""

    def __init__(self, unit: Unit) -> None:
        self._connection = unit.connection

    async def open(self, channel: str, external_id: str) -> tuple[UserDto, StateDto]:
        """The user (created on first contact, safe when two first messages race) and where
        their conversation is, in one query for a returning user."""
        connection = self._connection
        params = {"channel": channel, "external_id": external_id}
        row = (await connection.execute(_USER_AND_STATE, params)).first()
        if row is None:
            now = utcnow()
            values = {
                **params,
                "created_at": now,
                "updated_at": now,
                "person_key": str(uuid.uuid4()),
            }
            await insert_once(connection, User, values)
            row = (await connection.execute(_USER_AND_STATE, params)).one()
        user = UserDto(
            id=row.id,
            channel=row.channel,
            external_id=row.external_id,
            lang=row.lang,
            switch_offered=row.switch_offered,
            person_key=row.person_key,
        )
        if row.step is None:
            return user, StateDto(step=NOT_STARTED, data={}, version=0, open_case=row.open_case)
        return user, StateDto(
            step=row.step,
            data=dict(row.data or {}),
            version=row.version,
            open_case=row.open_case,
        )

    async def save(self, user_id: int, step: str, data: dict[str, Any], version: int) -> None:
        """Store the new state if nobody changed it since `version` was read."""
        if version == 0:
            try:
                async with self._connection.begin_nested():
                    await self._connection.execute(
                        _NEW_STATE,
                        {
                            "user_id": user_id,
                            "step": step,
                            "data": data,
                            "version": 1,
                            "updated_at": utcnow(),
                        },
                    )
            except IntegrityError as exc:
                raise StaleStateError(user_id) from exc
            return
        result = await self._connection.execute(
            _SAVE_STATE,
            {
                "user_id_": user_id,
                "version_": version,
                "step_": step,
                "data_": data,
                "now_": utcnow(),
            },
        )
        if result.rowcount != 1:
            raise StaleStateError(user_id)

    async def set_lang(self, user_id: int, lang: str) -> None:
        await self._connection.execute(
            _SET_LANG, {"user_id_": user_id, "lang_": lang, "now_": utcnow()}
        )

    async def mark_switch_offered(self, user_id: int) -> None:
        await self._connection.execute(_SWITCH_OFFERED, {"user_id_": user_id, "now_": utcnow()})


class UserRepository:
    def __init__(self, unit: Unit) -> None:
        self._unit = unit

    @property
    def _session(self) -> AsyncSession:
        return self._unit.orm()

    async def get_or_create(self, channel: str, external_id: str) -> UserDto:
        """The user, created on first contact (safe when two first messages race)."""
        user, _ = await self._unit.states.open(channel, external_id)
        return user

    async def get(self, user_id: int) -> UserDto | None:
        user = await self._session.get(User, user_id)
        return _user_dto(user) if user else None

    async def last_seen(self, channel: str, external_id: str) -> datetime | None:
        """When the person last wrote or pressed a button: every turn of theirs stores their
        conversation state (and nothing else does), so its time is that moment. For the
        messaging window of channels that have one (Messenger)."""
        return await self._unit.connection.scalar(
            select(ConversationState.updated_at)
            .join(User, User.id == ConversationState.user_id)
            .where(User.channel == channel, User.external_id == external_id)
        )


def _user_dto(user: User) -> UserDto:
    return UserDto(
        id=user.id,
        channel=user.channel,
        external_id=user.external_id,
        lang=user.lang,
        switch_offered=user.switch_offered,
        person_key=user.person_key,
    )
