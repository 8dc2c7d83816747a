"""Storage on a real SQLite file and the real local PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect

from storage.db import create_engine
from storage.errors import SchemaOutdatedError
from storage.migrate import (
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    revisions,
    upgrade,
)
from storage.models import Base, utcnow
from storage.references import appointment_reference, request_reference
from storage.repositories import CallbackRepository, StaleStateError
from storage.unit import Storage


async def test_migrations_up_down_up_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        await downgrade(engine, "base")
        assert await current_revision(engine) is None
        await upgrade(engine)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert set(Base.metadata.tables) <= tables
    finally:
        await engine.dispose()


async def test_migration_stairway_each_revision_goes_up_down_and_up_again(
    database_url: str,
) -> None:
    """Every revision can be applied, undone and applied again, one step at a time."""
    engine = create_engine(database_url)
    steps = revisions()
    assert steps[-1] == head_revision() and len(steps) == len(set(steps)) >= 8
    try:
        previous = "base"
        for revision in steps:
            await upgrade(engine, revision)
            assert await current_revision(engine) == revision
            await downgrade(engine, previous)
            assert await current_revision(engine) == (None if previous == "base" else previous)
            await upgrade(engine, revision)
            assert await current_revision(engine) == revision
            previous = revision
    finally:
        await engine.dispose()


async def test_outdated_schema_is_refused_with_a_clear_message(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with pytest.raises(SchemaOutdatedError, match="poradna db upgrade"):
            await ensure_schema(engine, apply=False)
        await ensure_schema(engine, apply=True)
        await ensure_schema(engine, apply=False)
    finally:
        await engine.dispose()


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield Storage(engine)
    await engine.dispose()


async def test_user_is_created_once(storage: Storage) -> None:
    async with storage.begin() as unit:
        first = await unit.users.get_or_create("telegram", "42")
    async with storage.begin() as unit:
        again = await unit.users.get_or_create("telegram", "42")
        other = await unit.users.get_or_create("console", "42")
    assert first.id == again.id != other.id
    assert first.lang is None


async def test_concurrent_first_contact_makes_one_user(storage: Storage) -> None:
    async def create() -> int:
        async with storage.begin() as unit:
            return (await unit.users.get_or_create("telegram", "7")).id

    ids = await asyncio.gather(*(create() for _ in range(5)))
    assert len(set(ids)) == 1


async def test_state_round_trip_and_stale_write_is_refused(storage: Storage) -> None:
    async with storage.begin() as unit:
        states = unit.states
        user, state = await states.open("t", "1")
        assert state.step == "new"
        await states.save(user.id, "menu", {"question": "Як?"}, 0)
    async with storage.begin() as unit:
        _, state = await unit.states.open("t", "1")
        assert (state.step, state.data, state.version) == ("menu", {"question": "Як?"}, 1)
        await unit.states.save(user.id, "cb_phone", {}, 1)
    with pytest.raises(StaleStateError):
        async with storage.begin() as unit:
            await unit.states.save(user.id, "menu", {}, 1)
    async with storage.begin() as unit:
        assert (await unit.states.open("t", "1"))[1].step == "cb_phone"


async def test_callback_requests_get_sequential_references(storage: Storage) -> None:
    async with storage.begin() as unit:
        user = await unit.users.get_or_create("t", "1")
        repo = unit.requests
        for _ in range(3):
            await _new_request(repo, user.id)
    async with storage.begin() as unit:
        requests = await unit.requests.list_requests()
        assert [r.reference for r in requests] == ["R-0001", "R-0002", "R-0003"]
        assert requests[0].created_at.tzinfo is not None
        assert [r.reference for r in await unit.requests.list_requests("new")] == [
            "R-0001",
            "R-0002",
            "R-0003",
        ]
        assert await unit.requests.list_requests("closed") == []


async def test_rolled_back_use_case_stores_nothing(storage: Storage) -> None:
    with pytest.raises(RuntimeError):
        async with storage.begin() as unit:
            user = await unit.users.get_or_create("t", "9")
            await _new_request(unit.requests, user.id)
            raise RuntimeError("cancelled half-way")
    async with storage.begin() as unit:
        assert await unit.requests.list_requests() == []


async def test_unanswered_questions_are_kept_for_coordinators(storage: Storage) -> None:
    async with storage.begin() as unit:
        await unit.unanswered.add(
            user_id=None,
            text="kde koupit auto",
            lang="cs",
            reason="no-match",
            best_topic=None,
            best_score=12,
        )
    async with storage.begin() as unit:
        [row] = await unit.unanswered.list_questions()
    assert (row["text"], row["lang"], row["reason"]) == ("kde koupit auto", "cs", "no-match")


def test_reference_format() -> None:
    assert request_reference(42) == "R-0042"
    assert request_reference(12345) == "R-12345"
    assert appointment_reference(7) == "A-0007"


async def test_a_turn_stores_its_core_and_orm_work_together_or_not_at_all(
    storage: Storage,
) -> None:
    """A turn's state (Core, on the connection) and a request (ORM, in a session that joins the
    same transaction) are committed together, and a turn that fails half-way keeps neither."""

    async def turn(user: str, fail: bool) -> None:
        async with storage.begin() as unit:
            states = unit.states
            person, state = await states.open("t", user)
            await states.save(person.id, "menu", {}, state.version)
            await _new_request(unit.requests, person.id)
            if fail:
                raise RuntimeError("the process stopped half-way")

    with pytest.raises(RuntimeError):
        await turn("failed", fail=True)
    await turn("stored", fail=False)
    async with storage.begin() as unit:
        states = unit.states
        assert (await states.open("t", "failed"))[1].step == "new"
        stored, state = await states.open("t", "stored")
        assert state.step == "menu"
    async with storage.begin() as unit:
        [request] = await unit.requests.list_requests()
    assert request.user_id == stored.id


async def _new_request(requests: CallbackRepository, user_id: int) -> None:
    await requests.create(
        user_id=user_id,
        lang="en",
        topic_id=None,
        phone="+420777123456",
        preferred_time="morning",
        question="q",
        consent_at=utcnow(),
    )
