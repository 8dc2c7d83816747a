"""The caseworkers' desk in flows: claim, answer, relay, close, rate (no Telegram needed)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.app import App
from flows import payloads as pl
from flows.payloads import Action
from storage.models import utcnow
from tests.helpers.chat import Chat


async def _setup(app: App) -> Chat:
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana", ("cs",))
        await unit.staff.add("telegram", "502", "Olena", ("uk",))
    chat = Chat(app.engine, channel="console", client_lang="uk")
    await chat.request_callback("uk", time="evening", question="Лист з МВС")
    return chat


async def _desk_texts(app: App) -> list[str]:
    async with app.storage.begin() as unit:
        return [m.body["text"] for m in await unit.outbox.all() if m.channel == "staff"]


async def test_new_request_goes_first_to_those_who_speak_the_language(app: App) -> None:
    await _setup(app)
    async with app.storage.begin() as unit:
        messages = await unit.outbox.all()
    [announcement] = [m for m in messages if m.recipient == "502"]  # Olena speaks Ukrainian
    assert not [m for m in messages if m.recipient == "501" or m.channel == "staff"]
    assert announcement.reference == "R-0001"
    assert "R-0001" in announcement.body["text"] and "+420777123456" in announcement.body["text"]
    assert "Лист з МВС" in announcement.body["text"]
    assert [b["payload"] for b in announcement.body["buttons"][0]] == [
        "claim:R-0001",
        "close:R-0001",
    ]
    # Nobody claimed it in time: now every caseworker is told, once.
    assert await app.desk.remind_overdue(utcnow() + timedelta(minutes=10)) == 0
    assert await app.desk.remind_overdue(utcnow() + timedelta(minutes=31)) == 1
    assert await app.desk.remind_overdue(utcnow() + timedelta(minutes=90)) == 0
    desk = await _desk_texts(app)
    assert len(desk) == 1 and desk[0].startswith("⏰ R-0001") and "+420777123456" in desk[0]


async def test_request_in_a_language_nobody_speaks_goes_to_everyone(app: App) -> None:
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana", ("cs",))
    chat = Chat(app.engine, channel="console", client_lang="mn")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "mn"))
    await chat.press_payload(pl.make(Action.PERSON))
    await chat.send("777123456")
    await chat.press_payload(pl.make(Action.TIME, "evening"))
    await chat.send("тусламж")
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert len(await _desk_texts(app)) == 1


async def test_urgent_request_reaches_everyone_at_once_and_again_after_minutes(app: App) -> None:
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana", ("cs",))
        await unit.staff.add("telegram", "502", "Olena", ("uk",))
    chat = Chat(app.engine, channel="console", client_lang="en")
    await chat.send("my husband beats me")
    await chat.send("777123456")
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    async with app.storage.begin() as unit:
        messages = await unit.outbox.all()
    assert {m.recipient for m in messages if m.reference == "R-0001"} >= {"501", "502", "desk"}
    assert await app.desk.remind_overdue(utcnow() + timedelta(minutes=2)) == 0
    assert await app.desk.remind_overdue(utcnow() + timedelta(minutes=6)) == 1


async def test_claim_answer_relay_close_and_rate(app: App) -> None:
    chat = await _setup(app)
    outcome = await app.desk.claim("telegram", "502", "R-0001")
    assert outcome.ok and "Olena" in outcome.text
    [claimed] = await app.engine.collect("console", "u1")
    assert claimed.key == "case-claimed" and claimed.lang == "uk"

    assert (await app.desk.reply("telegram", "501", "R-0001", "hi")).key == "staff-not-yours"
    assert (await app.desk.reply("telegram", "502", "R-0001", "Добрий день!")).ok
    [message] = await app.engine.collect("console", "u1")
    assert message.key == "caseworker-message" and "Добрий день!" in message.text

    await chat.send("Дякую, чекаю")
    assert chat.keys == ["case-relayed"]
    assert any(t.startswith("💬 R-0001") and "Дякую, чекаю" in t for t in await _desk_texts(app))

    assert (await app.desk.close("telegram", "502", "R-0001")).ok
    [closed] = await app.engine.collect("console", "u1")
    assert closed.key == "case-closed"
    await chat.press_payload(closed.flat_buttons[3].payload)
    assert chat.keys == ["rating-thanks"]
    await chat.press_payload(closed.flat_buttons[0].payload)  # rating twice is refused
    assert chat.keys == ["button-invalid", "menu-title"]
    async with app.storage.begin() as unit:
        request = await unit.requests.get("R-0001")
    assert request and (request.status, request.rating) == ("closed", 4)
    assert request.first_response_at is not None
    await chat.send("де знайти лікаря")
    assert "case-relayed" not in chat.keys  # the case is closed: the bot answers again


async def test_strangers_and_unknown_requests_are_refused(app: App) -> None:
    await _setup(app)
    assert (await app.desk.claim("telegram", "999", "R-0001")).key == "staff-not-staff"
    assert (await app.desk.claim("telegram", "501", "R-0404")).key == "staff-unknown-request"
    assert (await app.desk.close("telegram", "501", "R-0404")).key == "staff-unknown-request"


async def test_concurrent_claims_have_one_winner(app: App) -> None:
    await _setup(app)
    outcomes = await asyncio.gather(
        app.desk.claim("telegram", "501", "R-0001"), app.desk.claim("telegram", "502", "R-0001")
    )
    assert sorted(o.ok for o in outcomes) == [False, True]
    loser = next(o for o in outcomes if not o.ok)
    assert loser.key == "staff-claimed-by-other"


async def test_a_desk_action_delivered_twice_is_done_once(app: App) -> None:
    """The update is recorded in the action's own transaction: a redelivery (after the answer
    to the caseworker failed, or the process died before the update was marked) does nothing."""
    await _setup(app)
    first = await app.desk.reply("telegram", "502", "R-0001", "Добрий день!", update_id=77)
    again = await app.desk.reply("telegram", "502", "R-0001", "Добрий день!", update_id=77)
    assert first.ok and not first.repeated
    assert again.repeated
    async with app.storage.begin() as unit:
        to_person = [m for m in await unit.outbox.all() if m.channel == "console"]
    assert [m.body["key"] for m in to_person].count("caseworker-message") == 1
    assert (await app.desk.close("telegram", "502", "R-0001", update_id=78)).ok
    assert (await app.desk.close("telegram", "502", "R-0001", update_id=78)).repeated


async def test_a_caseworkers_text_is_cleaned_of_control_characters(app: App) -> None:
    await _setup(app)
    assert (await app.desk.reply("telegram", "502", "R-0001", "Добрий\x00 день\x1b[0m!")).ok
    async with app.storage.begin() as unit:
        [sent] = [m for m in await unit.outbox.all() if m.body["key"] == "caseworker-message"]
    assert "Добрий день[0m!" in sent.body["text"]
