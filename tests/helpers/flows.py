"""Conversations the tests go through often."""

from __future__ import annotations

from bot.app import App
from flows import payloads as pl
from flows.calendar import day_label, today_in_prague, working_days
from flows.payloads import Action
from storage.models import utcnow
from tests.helpers.chat import Chat


async def _book(app: App, lang: str = "uk", user: str = "u1", channel: str = "test") -> Chat:
    chat = Chat(app.engine, user=user, channel=channel, client_lang=lang)
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, lang))
    await chat.press_payload(pl.make(Action.APPOINTMENT))
    assert chat.keys == ["appointment-kind"]
    await chat.press_payload(pl.make(Action.KIND, "accompaniment"))
    assert chat.keys == ["appointment-place"]
    await chat.press_payload(pl.make(Action.PLACE, "oamp"))
    assert chat.keys == ["appointment-office"]
    offices = [b.payload for b in chat.replies[0].flat_buttons if b.payload.startswith("office:")]
    serving = [o.id for o in app.engine.offices.values() if lang in o.languages]
    assert offices == [f"office:{o}" for o in serving]  # offices that speak the language
    await chat.press_payload(offices[-1])
    assert chat.keys == ["appointment-day"]
    days = [b for b in chat.replies[0].flat_buttons if b.payload.startswith("day:")]
    expected = working_days(today_in_prague(utcnow()))
    assert [b.payload for b in days] == [f"day:{d.isoformat()}" for d in expected]
    assert days[0].label == day_label(expected[0], lang)
    await chat.press_payload(days[2].payload)
    assert chat.keys == ["appointment-part"]
    await chat.press_payload(pl.make(Action.PART, "afternoon"))
    assert chat.keys == ["callback-phone"]
    await chat.send("777 123 456")
    assert chat.keys == ["callback-consent"]
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert chat.keys == ["appointment-requested"]
    return chat
