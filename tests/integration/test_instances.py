"""Several bot instances on one PostgreSQL: nothing is done twice, nothing interleaves."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import App, build_app
from bot.telegram.factory import create_bot
from bot.telegram.outbox import OutboxSender
from flows import payloads as pl
from flows.events import Inbound, Reply
from flows.payloads import Action
from storage.models import utcnow
from tests.conftest import _fresh_postgres, make_settings
from tests.helpers.chat import Chat
from tests.helpers.fake_telegram import FakeTelegram


@pytest.fixture
async def instances() -> AsyncIterator[list[App]]:
    url = await _fresh_postgres()
    settings = make_settings(url, staff_language="en")
    first = await build_app(settings, migrate=True)
    second = await build_app(settings, migrate=False)  # a second process: schema already there
    yield [first, second]
    await first.close()
    await second.close()


async def _to_consent(app: App, user: str) -> None:
    await Chat(app.engine, user=user, client_lang="en").request_callback(agree=False)


async def test_one_user_on_two_instances_does_not_interleave(instances: list[App]) -> None:
    first, second = instances
    await _to_consent(first, "u1")
    presses = [
        (first if n % 2 else second).engine.handle(
            Inbound.press("test", "u1", pl.yes_no(Action.CONSENT, yes=True))
        )
        for n in range(6)
    ]
    results = await asyncio.gather(*presses)
    keys = Counter(r[0].key for r in results)
    assert keys["callback-done"] == 1  # one request, whichever instance got there first
    assert keys["callback-done"] + keys["button-invalid"] == 6, keys
    async with first.storage.begin() as unit:
        assert len(await unit.requests.list_requests()) == 1


async def test_claims_from_two_instances_have_one_winner(instances: list[App]) -> None:
    first, second = instances
    async with first.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana")
        await unit.staff.add("telegram", "502", "Olena")
    await _to_consent(first, "u1")
    await first.engine.handle(Inbound.press("test", "u1", pl.yes_no(Action.CONSENT, yes=True)))
    outcomes = await asyncio.gather(
        first.desk.claim("telegram", "501", "R-0001"),
        second.desk.claim("telegram", "502", "R-0001"),
    )
    assert sorted(o.ok for o in outcomes) == [False, True]


async def test_scheduled_reminders_run_once_across_instances(instances: list[App]) -> None:
    first, second = instances
    async with first.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana", ("en",))
    for n in range(5):
        await _to_consent(first, f"u{n}")
        await first.engine.handle(
            Inbound.press("test", f"u{n}", pl.yes_no(Action.CONSENT, yes=True))
        )
    later = utcnow() + timedelta(minutes=31)
    counts = await asyncio.gather(
        first.desk.remind_overdue(later), second.desk.remind_overdue(later)
    )
    assert sum(counts) == 5
    async with first.storage.begin() as unit:
        desk = [m for m in await unit.outbox.all() if m.channel == "staff"]
    assert sorted(m.reference for m in desk) == [f"R-000{n}" for n in range(1, 6)]


async def test_two_senders_deliver_every_message_exactly_once(instances: list[App]) -> None:
    first, second = instances
    fake = FakeTelegram()
    await fake.start()
    settings = make_settings(
        first.settings.database_url, telegram_bot_token=fake.token, telegram_api_base=fake.base
    )
    bots = [create_bot(settings), create_bot(settings)]
    senders = [
        OutboxSender(bot, app.storage, None) for bot, app in zip(bots, instances, strict=True)
    ]
    try:
        for n in range(30):
            await first.engine.handle(
                Inbound.message("telegram", str(1000 + n), "/start", "en"), via_outbox=True
            )

        async def drain(sender: OutboxSender) -> None:
            while await sender.deliver_due():
                pass

        await asyncio.gather(*(drain(s) for s in senders))
        sent = Counter((int(c.params["chat_id"]), c.params["text"][:30]) for c in fake.sent())
        assert len(sent) == 60  # greeting + language choice for each of 30 people
        assert set(sent.values()) == {1}  # none sent twice
        async with first.storage.begin() as unit:
            assert await unit.outbox.pending() == []
    finally:
        for bot in bots:
            await bot.session.close()
        await fake.stop()


USERS, STEPS = 150, 8


async def test_two_senders_keep_each_chats_order(instances: list[App]) -> None:
    """150 people × 8 replies each, delivered by two instances at once: every person gets
    their replies in the order they were stored. (One sender once leased a chat's later
    messages while the other still held its earlier ones, uncommitted.)"""
    first, _ = instances
    fake = FakeTelegram()
    await fake.start()
    settings = make_settings(
        first.settings.database_url, telegram_bot_token=fake.token, telegram_api_base=fake.base
    )
    bots = [create_bot(settings), create_bot(settings)]
    senders = [
        OutboxSender(bot, app.storage, None) for bot, app in zip(bots, instances, strict=True)
    ]
    try:
        async with first.storage.begin() as unit:
            for user in range(USERS):
                for step in range(STEPS):
                    reply = Reply(key="x", text=f"step {step}", lang="en")
                    await unit.outbox.add("telegram", str(5000 + user), reply.to_body())

        async def drain(sender: OutboxSender) -> None:
            while await sender.deliver_due():
                pass

        await asyncio.gather(*(drain(s) for s in senders))
        received: dict[int, list[str]] = {}
        for call in fake.sent():
            received.setdefault(int(call.params["chat_id"]), []).append(call.params["text"])
        expected = [f"step {step}" for step in range(STEPS)]
        disordered = [chat for chat, texts in received.items() if texts != expected]
        assert len(received) == USERS
        assert disordered == [], f"{len(disordered)} of {USERS} chats out of order"
    finally:
        for bot in bots:
            await bot.session.close()
        await fake.stop()


async def test_the_flood_limit_holds_across_instances() -> None:
    url = await _fresh_postgres()
    settings = make_settings(url, rate_limit_per_minute=5)
    first = await build_app(settings, migrate=True)
    second = await build_app(settings, migrate=False)
    try:
        replies = [
            await (first if n % 2 else second).engine.handle(
                Inbound.message("telegram", "flooder", "spam", "en")
            )
            for n in range(20)
        ]
        keys = [r[0].key if r else None for r in replies]
        assert "rate-limited" not in keys[:5]
        assert keys[5] == "rate-limited"  # one notice, whichever instance it reached
        assert keys[6:] == [None] * 14
        other = await second.engine.handle(Inbound.message("telegram", "someone", "/start"))
        assert other and other[0].key == "start-greeting"
    finally:
        await first.close()
        await second.close()
