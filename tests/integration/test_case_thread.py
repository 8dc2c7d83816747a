"""The case thread, photos and documents, and the desk's fixes (issue 17), in flows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.app import App
from flows import payloads as pl
from flows.calendar import PRAGUE
from flows.payloads import Action
from storage.models import CallbackRequest, utcnow
from storage.states import AppointmentStatus, RequestStatus
from tests.helpers.chat import Chat
from tests.helpers.flows import _book

PHOTO = "AgACAgIAAxkBAAIBQ2letter-page-1"
PAGE_2 = "AgACAgIAAxkBAAIBQ2letter-page-2"
DOCUMENT = "BQACAgIAAxkBAAIBRGdecision-pdf"


async def _claimed_case(app: App) -> Chat:
    """Olena (Ukrainian) has claimed R-0001 of a person on Telegram."""
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "502", "Olena", ("uk",))
    chat = Chat(app.engine, channel="telegram", client_lang="uk")
    await chat.request_callback("uk", question="Лист з МВС")
    assert (await app.desk.claim("telegram", "502", "R-0001")).ok
    return chat


async def _to_staff(app: App) -> list[dict]:
    async with app.storage.begin() as unit:
        return [
            m.body
            for m in await unit.outbox.all()
            if m.channel == "staff" or m.recipient in ("502", "501")
        ]


async def test_a_photo_with_an_open_case_reaches_the_caseworker_and_the_thread(app: App) -> None:
    chat = await _claimed_case(app)
    await chat.send_kind("photo", media_ref=PHOTO, text="Ось лист, сторінка 1")
    assert chat.keys == ["case-media-relayed"]
    assert "консультант" in chat.text  # in the person's language, not "I can only read text"

    [sent] = [b for b in await _to_staff(app) if b["key"] == "staff-migrant-sent-photo"]
    # To the desk, threaded under the request, with the file as Telegram knows it.
    assert (sent["media_kind"], sent["media_ref"], sent["media_channel"]) == (
        "photo",
        PHOTO,
        "telegram",
    )
    assert sent["reply_to_reference"] == "R-0001"
    assert sent["text"].startswith("📷 R-0001") and "Ось лист, сторінка 1" in sent["text"]

    assert (await app.desk.reply("telegram", "502", "R-0001", "Дякую, бачу лист.")).ok
    await chat.send_kind("document", media_ref=DOCUMENT)
    await chat.send("А це рішення")
    async with app.storage.begin() as unit:
        thread = await unit.threads.of("R-0001")
        request = await unit.requests.get("R-0001")
    assert [(e.author, e.text, e.media_kind, e.media_ref) for e in thread] == [
        ("person", "Ось лист, сторінка 1", "photo", PHOTO),
        ("staff", "Дякую, бачу лист.", None, None),
        ("person", None, "document", DOCUMENT),
        ("person", "А це рішення", None, None),
    ]
    assert {e.channel for e in thread} == {"telegram"}
    assert thread[1].staff_id is not None
    assert request and request.status == RequestStatus.ANSWERED  # the caseworker's turn


async def test_a_photo_without_a_case_is_kept_for_the_request_it_offers(app: App) -> None:
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "502", "Olena", ("uk",))
    chat = Chat(app.engine, channel="telegram", client_lang="uk")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "uk"))
    await chat.send_kind("photo", media_ref=PHOTO)
    assert chat.keys == ["case-media-offer"]
    assert chat.replies[0].text == app.knowledge.locales.get("uk")("case-media-offer")
    assert [b.payload for b in chat.replies[0].flat_buttons] == [
        pl.make(Action.PERSON),
        pl.make(Action.APPOINTMENT),
        pl.make(Action.MENU),
    ]
    await chat.press_payload(pl.make(Action.PERSON))
    await chat.send("777 123 456")
    # A second page sent in the middle of the request is kept too; the step goes on.
    await chat.send_kind("photo", media_ref=PAGE_2)
    assert chat.keys == ["case-media-kept", "callback-time"]
    await chat.send_kind("sticker")
    assert chat.keys == ["input-not-text", "callback-time"]  # stickers are no letter
    await chat.press_payload(pl.make(Action.TIME, "morning"))
    await chat.send("Лист з МВС")
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert chat.keys == ["callback-done"]

    async with app.storage.begin() as unit:
        thread = await unit.threads.of("R-0001")
        _, state = await unit.states.open("telegram", "u1")
        messages = [m for m in await unit.outbox.all() if m.recipient == "502"]
    assert [(e.author, e.media_ref) for e in thread] == [("person", PHOTO), ("person", PAGE_2)]
    assert "media" not in state.data  # handed over with the request, not kept twice
    # Olena, who speaks Ukrainian, gets the announcement and then both pages, in order.
    assert [m.body["key"] for m in messages] == [
        "staff-new-request",
        "staff-migrant-sent-photo",
        "staff-migrant-sent-photo",
    ]
    assert [m.body["media_ref"] for m in messages[1:]] == [PHOTO, PAGE_2]
    # The request waits in the queue: a photo sent now goes to its thread and the desk.
    await chat.send_kind("photo", media_ref="AgAC-later")
    assert chat.keys == ["case-media-relayed"]
    async with app.storage.begin() as unit:
        assert [e.media_ref for e in await unit.threads.of("R-0001")][-1] == "AgAC-later"


async def test_an_urgent_caption_gets_the_emergency_numbers_and_keeps_the_photo(
    app: App,
) -> None:
    chat = Chat(app.engine, channel="telegram", client_lang="en")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "en"))
    await chat.send_kind("photo", media_ref=PHOTO, text="my husband beats me, look")
    assert chat.keys[0] == "urgent-help-now"
    await chat.send("777123456")
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert "urgent-done" in chat.keys
    async with app.storage.begin() as unit:
        thread = await unit.threads.of("R-0001")
    assert [(e.media_ref, e.text) for e in thread] == [(PHOTO, "my husband beats me, look")]


async def test_coming_back_says_where_the_request_stands(app: App) -> None:
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "502", "Olena", ("uk",))
    chat = Chat(app.engine, channel="console", client_lang="uk")
    await chat.request_callback("uk", question="Лист з МВС")
    await chat.open()
    assert chat.keys[0] == "callback-waiting"  # nobody has it yet: in the queue
    assert (await app.desk.claim("telegram", "502", "R-0001")).ok
    await chat.open()
    assert chat.keys[0] == "case-claimed"
    assert (await app.desk.reply("telegram", "502", "R-0001", "Зателефоную о 10:00")).ok
    await chat.open()
    assert chat.keys[0] == "case-answered"
    assert "Зателефоную о 10:00" in chat.replies[0].text and "R-0001" in chat.replies[0].text
    queue = app.knowledge.locales.get("uk")("callback-waiting", reference="R-0001")
    assert queue not in chat.text  # no "you are in the queue" after the answer
    await chat.send("Добре, дякую")
    await chat.open()
    assert chat.keys[0] == "case-answered"  # still what the caseworker last wrote


async def test_reconfirming_an_appointment_at_the_same_time_sends_nothing_new(app: App) -> None:
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana", ("cs",))
    await _book(app, lang="uk")
    day = (utcnow() + timedelta(days=3)).astimezone(PRAGUE).strftime("%Y-%m-%d")

    async def sent() -> list[str]:
        async with app.storage.begin() as unit:
            return [m.body["key"] for m in await unit.outbox.all()]

    first = await app.desk.confirm("telegram", "501", "A-0001", f"{day} 10:00")
    assert first.ok and first.key == "staff-appointment-confirmed"
    before = await sent()
    again = await app.desk.confirm("telegram", "501", "a-0001", f"{day} 10:00")
    assert again.ok and again.key == "staff-appointment-unchanged"
    assert await sent() == before  # nothing to the person, nothing to the desk
    moved = await app.desk.confirm("telegram", "501", "A-0001", f"{day} 11:00")
    assert moved.key == "staff-appointment-confirmed"
    assert (await sent()).count("appointment-confirmed") == 2


async def test_references_are_found_in_any_case(app: App) -> None:
    await _claimed_case(app)
    assert (await app.desk.reply("telegram", "502", " r-0001 ", "Добрий день")).ok
    assert (await app.desk.close("telegram", "502", "r-0001")).ok
    async with app.storage.begin() as unit:
        request = await unit.requests.get("R-0001")
    assert request and request.status == RequestStatus.CLOSED


async def test_a_staff_command_before_any_caseworker_says_how_to_add_one(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.request_callback("en")
    outcome = await app.desk.claim("telegram", "501", "R-0001")
    assert not outcome.ok and outcome.key == "staff-none-yet"
    assert "poradna staff add" in outcome.text
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "502", "Olena", ("uk",))
    outcome = await app.desk.claim("telegram", "501", "R-0001")
    assert outcome.key == "staff-not-staff"
    # At the terminal, the words name the commands, not Telegram gestures.
    assert "poradna staff list" in app.desk.for_cli(outcome)
    claimed = await app.desk.claim("telegram", "502", "R-0001")
    cli = app.desk.for_cli(claimed)
    assert "poradna queue reply R-0001" in cli and "--staff 502" in cli
    assert "/reply" not in cli and "/reply" in claimed.text


async def test_desk_texts_are_in_the_staff_language(app: App) -> None:
    """STAFF_LANGUAGE is Czech by default: a settled appointment's status too."""
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana", ("cs",))
    await _book(app, lang="uk")
    day = (utcnow() + timedelta(days=3)).astimezone(PRAGUE).strftime("%Y-%m-%d")
    assert (await app.desk.confirm("telegram", "501", "A-0001", f"{day} 10:00")).ok
    outcome = await app.desk.settle("telegram", "501", "A-0001", AppointmentStatus.NO_SHOW)
    cs = app.knowledge.locales.get("cs")
    assert outcome.text == cs(
        "staff-appointment-updated", reference="A-0001", status=cs("staff-status-no-show")
    )
    assert "no-show" not in outcome.text
    bad = await app.desk.confirm("telegram", "501", "A-0001", "tomorrow")
    assert "poradna queue confirm A-0001 --at" in app.desk.for_cli(bad)


async def test_the_thread_is_exported_and_erased_with_the_request(app: App) -> None:
    chat = await _claimed_case(app)
    await chat.send_kind("photo", media_ref=PHOTO)
    await app.desk.reply("telegram", "502", "R-0001", "Бачу")
    async with app.storage.begin() as unit:
        data = await unit.privacy.export("telegram", "u1")
    assert data is not None
    [request] = data["callback_requests"]
    assert [(e["author"], e["media_ref"], e["text"]) for e in request["thread"]] == [
        ("person", PHOTO, None),
        ("staff", None, "Бачу"),
    ]
    assert (await app.desk.close("telegram", "502", "R-0001")).ok
    async with app.storage.begin() as unit:
        await unit.privacy.purge(timedelta(days=90))
        assert len(await unit.threads.of("R-0001")) == 2  # closed just now: kept
        long_ago = utcnow() - timedelta(days=91)
        await unit.orm().execute(update(CallbackRequest).values(closed_at=long_ago))
    async with app.storage.begin() as unit:
        purged = await unit.privacy.purge(timedelta(days=90))
        assert await unit.threads.of("R-0001") == []
    assert purged.messages >= 2
