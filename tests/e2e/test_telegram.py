"""Telegram end to end: the real aiogram Bot and Dispatcher against a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import build_app
from flows import payloads as pl
from flows.calendar import PRAGUE
from flows.payloads import Action, StaffAction
from storage.models import CallbackRequest, utcnow
from tests.conftest import make_settings
from tests.helpers.fake_telegram import FakeTelegram, parse_html, utf16_length
from tests.helpers.flows import _book
from tests.helpers.telegram import (
    CASEWORKER,
    COLLEAGUE,
    DESK,
    DESK_CHAT,
    MIGRANT,
    STRANGER,
    Harness,
    _request_callback,
    running_bot,
)


@pytest.fixture
async def tg(flow_database_url: str) -> AsyncIterator[Harness]:
    async with running_bot(flow_database_url) as harness:
        yield harness


async def _outbox_drained(h: Harness) -> bool:
    """Whether the outbox empties (the sender marks a message sent just after Telegram took it)."""
    for _ in range(100):
        async with h.app.storage.begin() as unit:
            if not await unit.outbox.pending():
                return True
        await asyncio.sleep(0.05)
    return False


async def test_bot_registers_commands_and_descriptions_in_every_language(tg: Harness) -> None:
    calls = [c.params for c in tg.fake.calls if c.method == "setMyCommands"]
    languages = {c.get("language_code") for c in calls}
    assert {"cs", "en", "ru", "uk", "vi", "ar", "mn", "fr", "es", "hy", None} <= languages
    ru = next(c for c in calls if c.get("language_code") == "ru")
    assert [cmd["command"] for cmd in ru["commands"]] == [
        "start",
        "menu",
        "language",
        "help",
        "cancel",
    ]
    descriptions = [c.params for c in tg.fake.calls if c.method == "setMyDescription"]
    assert any("Poradna" in d["description"] for d in descriptions)


async def test_full_journey_from_start_to_a_closed_and_rated_case(tg: Harness) -> None:
    f = tg.fake
    done = await _request_callback(tg)
    assert "R-0001" in done

    announcement = await tg.wait_text(DESK, "R-0001")
    assert "+420777123456" in announcement
    assert ("✋ Claim", pl.staff(StaffAction.CLAIM, "R-0001")) in f.buttons(DESK)
    post = next(c for c in f.sent(DESK) if "R-0001" in c.params["text"]).result["message_id"]

    f.click(CASEWORKER, pl.staff(StaffAction.CLAIM, "R-0001"), chat=DESK_CHAT, message_id=post)
    await f.wait_for(lambda: any("R-0001" in a.get("text", "") for a in tg.answers()))
    await tg.wait_text(MIGRANT, "R-0001", count=2)  # "a caseworker is handling R-0001"

    f.send(CASEWORKER, "Dobrý den, zavolám vám zítra v 10", chat=DESK_CHAT, reply_to=post)
    answer = await tg.wait_text(MIGRANT, "zavolám vám zítra")
    assert "👤" in answer

    f.send(MIGRANT, "Спасибо, буду ждать", lang="ru")
    relayed = await tg.wait_text(DESK, "буду ждать")
    assert relayed.startswith("💬 R-0001")
    relay_call = next(c for c in f.sent(DESK) if "буду ждать" in c.params["text"])
    assert relay_call.params["reply_parameters"]["message_id"] == post

    f.send(CASEWORKER, "/reply R-0001 Ещё вопрос: есть ли у вас паспорт?", chat=DESK_CHAT)
    await tg.wait_text(MIGRANT, "есть ли у вас паспорт")

    f.click(CASEWORKER, pl.staff(StaffAction.CLOSE, "R-0001"), chat=DESK_CHAT, message_id=post)
    await f.wait_for(lambda: any(p == pl.rating("R-0001", 5) for _, p in f.buttons(MIGRANT)))
    f.click(MIGRANT, pl.rating("R-0001", 5), lang="ru")
    await tg.wait_text(MIGRANT, tg.app.knowledge.locales.get("ru")("rating-thanks"))
    async with tg.app.storage.begin() as unit:
        request = await unit.orm().scalar(select(CallbackRequest))
    assert request.status == "closed"
    assert request.first_response_at is not None
    assert request.rating == 5
    # After closing, the migrant's messages are answered by the bot again, not relayed.
    f.send(MIGRANT, "где найти врача", lang="ru")
    await tg.wait_text(MIGRANT, "врач")
    assert not [t for t in tg.texts(DESK) if "где найти врача" in t]


async def test_two_caseworkers_claim_at_once_and_one_wins(tg: Harness) -> None:
    f = tg.fake
    await _request_callback(tg)
    await tg.wait_text(DESK, "R-0001")
    f.click(CASEWORKER, pl.staff(StaffAction.CLAIM, "R-0001"), chat=DESK_CHAT)
    f.click(COLLEAGUE, pl.staff(StaffAction.CLAIM, "R-0001"), chat=DESK_CHAT)
    await f.wait_for(lambda: len(tg.answers()) >= 2)
    texts = [a.get("text", "") for a in tg.answers()]
    winners = [t for t in texts if "is taken by" in t]
    losers = [t for t in texts if "already taken by" in t]
    assert len(winners) == 1 and len(losers) == 1
    assert any(a.get("show_alert") for a in tg.answers())


async def test_only_staff_may_press_desk_buttons(tg: Harness) -> None:
    f = tg.fake
    await _request_callback(tg)
    await tg.wait_text(DESK, "R-0001")
    f.click(STRANGER, pl.staff(StaffAction.CLAIM, "R-0001"), chat=DESK_CHAT)
    await f.wait_for(lambda: len(tg.answers()) >= 1)
    assert tg.answers()[-1]["text"] == "Only caseworkers can do this."
    async with tg.app.storage.begin() as unit:
        request = await unit.orm().scalar(select(CallbackRequest))
    assert request.status == "new"


async def test_forged_callbacks_are_refused(tg: Harness) -> None:
    f = tg.fake
    f.send(MIGRANT, "/start", lang="en")
    await tg.wait_text(MIGRANT, "Poradna")
    f.click(MIGRANT, "topic:../../etc/passwd")
    await tg.wait_text(MIGRANT, "not valid any more")
    f.click(CASEWORKER, pl.staff(StaffAction.CLAIM, "R-9999"), chat=DESK_CHAT)
    f.click(CASEWORKER, "drop:everything", chat=DESK_CHAT)
    await f.wait_for(lambda: len([a for a in tg.answers() if a.get("show_alert")]) >= 2)
    texts = [a["text"] for a in tg.answers() if a.get("show_alert")]
    assert "There is no open request R-9999." in texts


async def test_retry_after_and_server_errors_deliver_later_exactly_once(tg: Harness) -> None:
    f = tg.fake
    f.fail_next("sendMessage", 429, retry_after=1)
    f.fail_next("sendMessage", 500)
    f.send(MIGRANT, "/start", lang="en")
    await tg.wait_text(MIGRANT, "Poradna")
    await f.wait_for(lambda: len(f.texts(MIGRANT)) >= 2)
    failed = [c for c in f.calls if c.method == "sendMessage" and c.result is None]
    assert len(failed) == 2
    texts = f.texts(MIGRANT)
    assert len(texts) == len(set(texts))  # each reply delivered once
    assert texts[0].startswith("Hello! I am Poradna")  # and in order
    assert await _outbox_drained(tg)


async def test_a_redelivered_update_is_processed_once(tg: Harness) -> None:
    f = tg.fake
    update_id = f.send(MIGRANT, "/start", lang="en")
    await tg.wait_text(MIGRANT, "Poradna")
    await tg.redeliver(update_id)
    f.send(MIGRANT, "/help", lang="en")
    await tg.wait_text(MIGRANT, "/language")
    assert len([t for t in tg.texts(MIGRANT) if t.startswith("Hello! I am Poradna")]) == 1


async def test_media_gets_a_polite_reply_in_the_users_language(tg: Harness) -> None:
    f = tg.fake
    f.send(MIGRANT, "/start", lang="vi")
    await tg.wait_text(MIGRANT, "Poradna")
    f.click(MIGRANT, pl.make(Action.LANG, "vi"), lang="vi")
    await f.wait_for(lambda: len(f.buttons(MIGRANT)) >= 6)
    f.send(
        MIGRANT,
        None,
        lang="vi",
        sticker={
            "file_id": "s",
            "file_unique_id": "s",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        },
    )
    reply = tg.app.knowledge.locales.get("vi")("input-not-text")
    await tg.wait_text(MIGRANT, reply[:20])


async def test_arabic_answer_is_laid_out_right_to_left(tg: Harness) -> None:
    f = tg.fake
    f.send(MIGRANT, "/start ar__health-insurance", lang="ar")
    answer = await tg.wait_text(MIGRANT, "<b>")
    assert answer.startswith("<b>\u200f")
    assert "\u2066" in answer  # links and numbers isolated left-to-right


async def test_caseworker_reply_to_an_unclaimed_request_claims_it(tg: Harness) -> None:
    f = tg.fake
    await _request_callback(tg)
    await tg.wait_text(DESK, "R-0001")
    f.send(COLLEAGUE, "/reply R-0001 Перезвоню сегодня", chat=DESK_CHAT)
    await tg.wait_text(MIGRANT, "Перезвоню сегодня")
    f.send(CASEWORKER, "/reply R-0001 I take it", chat=DESK_CHAT)
    refusal = await tg.wait_text(DESK, "only they can reply")
    assert "Olena" in refusal


async def test_webhook_checks_the_secret_and_serves_health(flow_database_url: str) -> None:
    import socket

    import aiohttp

    from bot.telegram.factory import run_webhook

    fake = FakeTelegram()
    await fake.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(
        flow_database_url,
        telegram_bot_token=fake.token,
        telegram_api_base=fake.base,
        webhook_url="https://bot.example.org/telegram",
        webhook_secret="s3cret",
        port=port,
    )
    app = await build_app(settings, migrate=True)
    server = asyncio.create_task(run_webhook(app))
    try:
        await fake.wait_for(lambda: any(c.method == "setWebhook" for c in fake.calls))
        webhook = next(c for c in fake.calls if c.method == "setWebhook")
        assert webhook.params["secret_token"] == "s3cret"
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": MIGRANT, "type": "private"},
                "from": fake.user(MIGRANT),
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as client:
            for _ in range(100):
                try:
                    async with client.get(f"{url}/healthz") as response:
                        assert response.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            async with client.get(f"{url}/healthz") as response:
                health = await response.json()
            assert health["status"] == "ok"
            assert set(health["last_24h"]) >= {"answered", "clarified", "escalated"}
            async with client.post(f"{url}/telegram", json=update) as response:
                assert response.status == 401
            async with client.post(
                f"{url}/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            ) as response:
                assert response.status == 401
            async with client.post(
                f"{url}/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"},
            ) as response:
                assert response.status == 200
            # Telegram heard "200" only once the turn was stored: had the process died before,
            # Telegram would have sent the update again.
            async with app.storage.begin() as unit:
                queued = await unit.outbox.all()
            assert [m.body["key"] for m in queued][:2] == [
                "start-greeting",
                "start-choose-language",
            ]
        await fake.wait_for(lambda: any("Poradna" in t for t in fake.texts(MIGRANT)))
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
        await app.close()
        await fake.stop()


async def test_request_routed_to_a_caseworker_who_speaks_the_language(tg: Harness) -> None:
    f = tg.fake
    await _request_callback(tg, lang="uk")
    post = await tg.wait_text(COLLEAGUE, "R-0001")  # in Olena's own chat, not the group
    assert ("✋ Claim", pl.staff(StaffAction.CLAIM, "R-0001")) in f.buttons(COLLEAGUE)
    assert not [t for t in tg.texts(DESK) if "R-0001" in t]
    message_id = next(c for c in f.sent(COLLEAGUE) if c.params["text"] == post).result[
        "message_id"
    ]
    f.click(
        COLLEAGUE,
        pl.staff(StaffAction.CLAIM, "R-0001"),
        chat={"id": COLLEAGUE, "type": "private"},
        message_id=message_id,
    )
    await f.wait_for(lambda: any("Olena" in a.get("text", "") for a in tg.answers()))
    f.send(COLLEAGUE, "Добрий день, передзвоню о 10", reply_to=message_id)
    await tg.wait_text(MIGRANT, "передзвоню о 10")
    # A caseworker writing to the bot about something else is treated like anyone else.
    f.send(COLLEAGUE, "/start", lang="uk")
    await tg.wait_text(COLLEAGUE, "Poradna")


async def test_unclaimed_request_is_announced_to_everyone_after_the_sla(tg: Harness) -> None:
    await _request_callback(tg, lang="uk")
    await tg.wait_text(COLLEAGUE, "R-0001")
    assert await tg.app.desk.remind_overdue(utcnow() + timedelta(minutes=31)) == 1
    tg.sender.wake()
    reminder = await tg.wait_text(DESK, "R-0001")
    assert reminder.startswith("⏰ R-0001")


JANA = 503
HTML_NAME = "Jana <Novakova> & Co"


def _visible(call_text: str) -> str:
    return parse_html(call_text)


async def test_staff_texts_are_escaped_and_a_redelivered_confirm_confirms_once(
    tg: Harness,
) -> None:
    f = tg.fake
    async with tg.app.storage.begin() as unit:
        await unit.staff.add("telegram", str(JANA), HTML_NAME, ("en",))
    await _book(tg.app, lang="en", user=str(MIGRANT), channel="telegram")
    day = (utcnow() + timedelta(days=3)).astimezone(PRAGUE).strftime("%Y-%m-%d")
    f.send(JANA, f"/confirm A-0001 {day} 10:00", chat=DESK_CHAT)
    # Both the desk's notice and the answer to Jana show her name as written.
    done = await tg.wait_text(DESK, "confirmed for", count=2)
    assert HTML_NAME in _visible(done)
    # Moved to 11:00, and the answer to that command fails once (a 5xx, a network error):
    # Telegram delivers the update again, and the person is told of the move once.
    update_id = f.send(JANA, f"/confirm A-0001 {day} 11:00", chat=DESK_CHAT)
    update = next(u for u in f._updates if u["update_id"] == update_id)
    reply_id = update["message"]["message_id"]
    f.fail_when(
        "sendMessage",
        lambda p: (p.get("reply_parameters") or {}).get("message_id") == reply_id,
        500,
    )
    await f.wait_for(lambda: any(c.result is None and c.method == "sendMessage" for c in f.calls))
    await tg.redeliver(update_id)
    f.send(MIGRANT, "/help", lang="en")
    await tg.wait_text(MIGRANT, "/language")
    assert await _outbox_drained(tg)
    confirmations = [t for t in tg.texts(MIGRANT) if "A-0001" in t and ":00" in t]
    assert len(confirmations) == 2, confirmations
    assert "11:00" in confirmations[-1]


async def test_a_redelivered_desk_command_that_changes_nothing_is_answered_once(
    tg: Harness,
) -> None:
    """A caseworker's command that stores nothing (here a /reply without a message) is
    checked against the updates already processed before it is answered."""
    f = tg.fake
    async with tg.app.storage.begin() as unit:
        await unit.staff.add("telegram", str(JANA), "Jana", ("en",))
    update_id = f.send(JANA, "/reply R-0042", chat=DESK_CHAT)
    await tg.wait_text(DESK, "Write /reply R-0042")
    await tg.redeliver(update_id)
    f.send(JANA, "/reply R-0043 Hello", chat=DESK_CHAT)
    await tg.wait_text(DESK, "R-0043")
    assert len([t for t in tg.texts(DESK) if "Write /reply R-0042" in t]) == 1


async def test_desk_commands_check_the_sender_first_and_echo_nothing_as_html(
    tg: Harness,
) -> None:
    f = tg.fake
    phishing = '<a href="https://evil.example/">Open the new case portal</a>'
    f.send(STRANGER, f"/confirm {phishing} 2020-01-01 10:00", chat=DESK_CHAT)
    # Forty more commands: someone who is not a caseworker is told once a minute, not forty
    # times (the desk group had no flood limit).
    for n in range(40):
        command = ("/done", "/reply", "/cancelappt", "/reload")[n % 4]
        f.send(STRANGER, f"{command} {phishing}", chat=DESK_CHAT)
    f.send(CASEWORKER, f"/confirm {phishing} 2020-01-01 10:00", chat=DESK_CHAT)
    f.send(CASEWORKER, f"/cancelappt {phishing}", chat=DESK_CHAT)
    await f.wait_for(lambda: len(tg.texts(DESK)) >= 3)  # updates are handled in order
    texts = tg.texts(DESK)
    assert len([t for t in texts if "Only caseworkers" in t]) == 1, texts
    for text in texts:
        assert "<a " not in text, text  # a link would be the bot's own, clickable
        assert "Open the new case portal" not in _visible(text) or phishing in _visible(text)


async def test_a_long_reply_with_emoji_is_split_by_telegrams_count_and_a_refusal_is_told(
    tg: Harness,
) -> None:
    f = tg.fake
    await _request_callback(tg)
    await tg.wait_text(DESK, "R-0001")
    # 3,000 code points, 4,000 UTF-16 units (each 😀 is two): over Telegram's 4,096 with the
    # caseworker prefix, under the 4,000 code points the split once counted.
    long = " ".join(["😀😀 ok"] * 600)
    assert len(long) < 4000 < utf16_length(long)
    f.send(CASEWORKER, f"/reply R-0001 {long}", chat=DESK_CHAT)
    await tg.wait_text(MIGRANT, "😀😀 ok", count=2)
    parts = [t for t in tg.texts(MIGRANT) if "😀" in t]
    assert all(utf16_length(parse_html(t)) <= 4096 for t in parts)
    assert "".join(parts).count("😀") == 1200
    # The person blocked the bot: the next reply is refused for good, and the desk is told.
    f.fail_when("sendMessage", lambda p: int(p["chat_id"]) == MIGRANT, 403)
    f.send(CASEWORKER, "/reply R-0001 Call me back please", chat=DESK_CHAT)
    notice = await tg.wait_text(DESK, "could not be delivered")
    assert "R-0001" in notice


PHOTO_ID = "AgACAgIAAxkBAAIBQ2VhLetterPage1"
DOCUMENT_ID = "BQACAgIAAxkBAAIBRGVhDecisionPdf"


def _photo(file_id: str) -> dict:
    """A photo as Telegram sends it: several sizes, the largest last."""
    return {
        "photo": [
            {"file_id": f"{file_id}-small", "file_unique_id": "s", "width": 90, "height": 67},
            {"file_id": file_id, "file_unique_id": "b", "width": 1280, "height": 960},
        ]
    }


async def test_a_photo_with_an_open_case_is_copied_into_the_desk_thread(tg: Harness) -> None:
    f = tg.fake
    ru = tg.app.knowledge.locales.get("ru")
    await _request_callback(tg)
    await tg.wait_text(DESK, "R-0001")
    post = next(c for c in f.sent(DESK) if "R-0001" in c.params["text"]).result["message_id"]
    f.click(CASEWORKER, pl.staff(StaffAction.CLAIM, "R-0001"), chat=DESK_CHAT, message_id=post)
    await tg.wait_text(MIGRANT, "R-0001", count=2)

    f.send(MIGRANT, None, lang="ru", caption="Вот письмо, <первая> страница", **_photo(PHOTO_ID))
    await f.wait_for(lambda: len(f.media(DESK)) >= 1)
    [photo] = f.media(DESK)
    # The largest size, sent again by its file id, under the request's announcement.
    assert photo.method == "sendPhoto" and photo.params["photo"] == PHOTO_ID
    assert photo.params["reply_parameters"]["message_id"] == post
    caption = parse_html(photo.params["caption"])
    assert caption.startswith("📷 R-0001") and "Вот письмо, <первая> страница" in caption
    await tg.wait_text(MIGRANT, ru("case-media-relayed"))
    assert ru("input-not-text") not in tg.texts(MIGRANT)

    # The caseworker answers the photo itself: it is about R-0001, and reaches the person.
    f.send(CASEWORKER, "Вижу письмо, позвоню", chat=DESK_CHAT, reply_to=photo.result["message_id"])
    await tg.wait_text(MIGRANT, "Вижу письмо, позвоню")
    f.send(
        MIGRANT,
        None,
        lang="ru",
        document={"file_id": DOCUMENT_ID, "file_unique_id": "d", "file_name": "rozhodnuti.pdf"},
    )
    await f.wait_for(lambda: len(f.media(DESK)) >= 2)
    document = f.media(DESK)[-1]
    assert document.method == "sendDocument" and document.params["document"] == DOCUMENT_ID
    assert document.params["reply_parameters"]["message_id"] == post
    f.send(MIGRANT, "Это решение", lang="ru")
    await tg.wait_text(DESK, "Это решение")

    async with tg.app.storage.begin() as unit:
        thread = await unit.threads.of("R-0001")
    assert [(e.author, e.text, e.media_kind, e.media_ref) for e in thread] == [
        ("person", "Вот письмо, <первая> страница", "photo", PHOTO_ID),
        ("staff", "Вижу письмо, позвоню", None, None),
        ("person", None, "document", DOCUMENT_ID),
        ("person", "Это решение", None, None),
    ]


async def test_a_photo_before_any_request_is_kept_and_given_with_it(tg: Harness) -> None:
    f = tg.fake
    ru = tg.app.knowledge.locales.get("ru")
    f.send(MIGRANT, "/start", lang="ru")
    await tg.wait_text(MIGRANT, "Poradna")
    f.click(MIGRANT, pl.make(Action.LANG, "ru"), lang="ru")
    await f.wait_for(lambda: len(f.buttons(MIGRANT)) >= 6)
    f.send(MIGRANT, None, lang="ru", **_photo(PHOTO_ID))
    await tg.wait_text(MIGRANT, ru("case-media-offer"))
    assert (ru("buttons-person"), pl.make(Action.PERSON)) in f.buttons(MIGRANT)
    f.click(MIGRANT, pl.make(Action.PERSON), lang="ru")
    await tg.wait_text(MIGRANT, ru("callback-phone"))
    f.send(MIGRANT, "777 123 456", lang="ru")
    await f.wait_for(
        lambda: any(p == pl.make(Action.TIME, "morning") for _, p in f.buttons(MIGRANT))
    )
    f.click(MIGRANT, pl.make(Action.TIME, "morning"), lang="ru")
    await tg.wait_text(MIGRANT, ru("callback-question"))
    f.send(MIGRANT, "Что это за письмо?", lang="ru")
    await f.wait_for(
        lambda: any(p == pl.yes_no(Action.CONSENT, yes=True) for _, p in f.buttons(MIGRANT))
    )
    f.click(MIGRANT, pl.yes_no(Action.CONSENT, yes=True), lang="ru")
    await tg.wait_text(MIGRANT, "R-0001")

    announcement = await tg.wait_text(DESK, "R-0001")
    await f.wait_for(lambda: len(f.media(DESK)) >= 1)
    post = next(c for c in f.sent(DESK) if c.params["text"] == announcement).result["message_id"]
    [photo] = f.media(DESK)
    assert photo.params["photo"] == PHOTO_ID
    assert photo.params["reply_parameters"]["message_id"] == post  # under the request
