"""Conversation flows through the engine, on a real database."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.app import App, build_app
from flows import payloads as pl
from flows.calendar import date_label
from flows.events import Inbound
from flows.payloads import Action
from locales import LRI, PDI, RLM
from storage.models import CallbackRequest, UnansweredQuestion
from tests.conftest import make_settings
from tests.helpers.chat import Chat

DOCS = "residence-extension-documents"


async def _requests(app: App) -> list:
    async with app.storage.begin() as unit:
        return await unit.requests.list_requests()


async def _count(app: App, model: type) -> int:
    async with app.storage.begin() as unit:
        return await unit.orm().scalar(select(func.count()).select_from(model))


async def test_start_greets_and_preselects_the_phone_language(app: App) -> None:
    chat = Chat(app.engine, client_lang="uk")
    await chat.send("/start")
    assert chat.keys == ["start-greeting", "start-choose-language"]
    assert "Poradna" in chat.replies[0].text
    labels = [b.label for b in chat.replies[-1].flat_buttons]
    assert labels[0] == "✓ Українська"
    assert {"Русский", "Tiếng Việt", "العربية", "Монгол", "Հայերեն", "Čeština"} <= set(labels)
    assert len(labels) == 10


async def test_choosing_a_language_shows_the_menu_in_it(app: App) -> None:
    chat = Chat(app.engine)
    await chat.send("/start")
    await chat.press("Tiếng Việt")
    assert chat.keys == ["language-set", "menu-title"]
    assert chat.replies[0].lang == "vi"
    assert "Tiếng Việt" in chat.replies[0].text
    categories = [b.payload for b in chat.replies[-1].flat_buttons]
    assert categories[:5] == [
        "cat:residence",
        "cat:health",
        "cat:family",
        "cat:letters",
        "cat:integration",
    ]


async def test_browse_category_topic_answer_back_and_menu(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.press("Residence")
    assert chat.keys == ["menu-category"]
    assert f"topic:{DOCS}" in [b.payload for b in chat.replies[0].flat_buttons]
    await chat.press_payload(pl.make(Action.TOPIC, DOCS))
    assert chat.keys == ["disclaimer", "faq-answer"]
    answer = chat.replies[-1]
    assert "120" not in answer.title  # the title is the question, the rules are in the text
    assert "ipc.gov.cz" in answer.text
    await chat.press("Back")
    assert chat.keys == ["menu-category"]
    await chat.press("Back")
    assert chat.keys == ["menu-title"]
    await chat.press_payload(pl.make(Action.TOPIC, DOCS))
    await chat.press("Menu")
    assert chat.keys == ["menu-title"]


async def test_disclaimer_is_shown_once_per_conversation(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.press_payload(pl.make(Action.TOPIC, DOCS))
    assert "disclaimer" in chat.keys
    await chat.press_payload(pl.make(Action.TOPIC, "health-insurance"))
    assert "disclaimer" not in chat.keys
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.TOPIC, "health-insurance"))
    assert "disclaimer" in chat.keys


async def test_free_question_in_transliterated_russian_is_answered_in_russian(app: App) -> None:
    chat = Chat(app.engine)
    await chat.send("kakie dokumenty nuzhny dlya prodleniya vnzh")
    assert chat.keys[0] == "start-greeting"
    answer = chat.replies[chat.keys.index("faq-answer")]
    assert answer.lang == "ru"
    assert "ВНЖ" in answer.title or "вид" in answer.title.casefold()


async def test_an_answer_says_when_its_facts_were_checked(app: App) -> None:
    checked = app.knowledge.faq.topics["health-insurance"].checked
    assert checked is not None
    chat = Chat(app.engine, client_lang="cs")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "cs"))
    await chat.press_payload(pl.make(Action.TOPIC, "health-insurance"))
    answer = chat.replies[chat.keys.index("faq-answer")].text
    assert f"Údaje ověřeny podle těchto zdrojů dne {date_label(checked, 'cs')}." in answer
    assert checked.isoformat() not in answer  # a date in words, not 2026-12-04


async def test_two_questions_get_one_answer_and_the_other_offered_once(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "en"))
    await chat.send(
        "which papers do I need for extending my visa, and what is the last day to apply?"
    )
    assert "faq-answer" in chat.keys
    also = chat.replies[chat.keys.index("answer-also")]
    deadline = pl.make(Action.TOPIC, "residence-extension-deadline")
    assert [b.payload for b in also.flat_buttons] == [deadline]
    offered = [b.payload for r in chat.replies for b in r.flat_buttons]
    assert offered.count(deadline) == 1  # not again among "not what you asked?"


async def test_the_switch_is_offered_in_that_language_and_once_more_if_ignored(app: App) -> None:
    chat = Chat(app.engine)
    await chat.send("/start")
    await chat.press("English")
    await chat.send("Які документи потрібні для продовження посвідки?")
    assert chat.replies[chat.keys.index("faq-answer")].lang == "en"
    offer = chat.replies[-1]
    assert (offer.key, offer.lang) == ("language-switch-offer", "uk")
    assert offer.text == "Схоже, ви пишете українською. Перейти на українську?"
    # Ignored: two more messages in Ukrainian say nothing of it, the third offers it again.
    for text in ("де записатися до лікаря", "як записати дитину до школи"):
        await chat.send(text)
        assert "language-switch-offer" not in chat.keys
    await chat.send("скільки коштує медичне страхування")
    assert chat.keys[-1] == "language-switch-offer"
    for _ in range(4):  # offered twice: the person has chosen
        await chat.send("де записатися до лікаря")
        assert "language-switch-offer" not in chat.keys
    # The language can still be switched with the offer's button.
    await chat.press_payload(pl.make(Action.SWITCH, "uk"))
    assert chat.replies[0].lang == "uk"


async def test_keeping_the_language_is_final_and_requests_follow_the_written_one(
    app: App,
) -> None:
    chat = Chat(app.engine)
    await chat.send("/start")
    await chat.press("English")
    await chat.send("Які документи потрібні для продовження посвідки?")
    await chat.press_payload(pl.make(Action.KEEP_LANGUAGE))
    assert chat.keys == ["language-kept"]
    assert chat.replies[0].text == "OK, we continue in English."
    for _ in range(4):
        await chat.send("де записатися до лікаря")
        assert "language-switch-offer" not in chat.keys
    # A request is routed by the language the person writes in, not the menu's.
    await chat.press_payload(pl.make(Action.PERSON))
    await chat.send("777 123 456")
    await chat.press_payload(pl.make(Action.TIME, "morning"))
    await chat.send("потрібна допомога з листом")
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert chat.keys[-1] == "callback-done"
    async with app.storage.begin() as unit:
        request = (await unit.orm().scalars(select(CallbackRequest))).one()
    assert request.lang == "uk"


async def test_accepting_the_switch_repeats_the_answer_in_the_new_language(app: App) -> None:
    chat = Chat(app.engine)
    await chat.send("/start")
    await chat.press("English")
    await chat.send("Какие документы нужны для продления ВНЖ?")
    await chat.press("Да")
    assert chat.keys[-1] == "faq-answer"
    assert chat.replies[-1].lang == "ru"


async def test_ambiguous_question_offers_closest_topics_and_a_person(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.send("permit")
    assert chat.keys == ["clarify-intro"]
    payloads = [b.payload for b in chat.replies[0].flat_buttons]
    assert 2 <= len(payloads) <= 4
    assert payloads[-1] == "none"
    assert all(p.startswith("topic:") for p in payloads[:-1])
    await chat.press("None of these")
    assert chat.keys == ["callback-phone"]
    async with app.storage.begin() as unit:
        reasons = sorted((await unit.orm().scalars(select(UnansweredQuestion.reason))).all())
    assert reasons == ["none-fits", "unsure"]  # asked back, then nothing fitted


async def test_off_topic_message_is_escalated_honestly_and_logged(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.send("who won the football match yesterday")
    assert chat.keys == ["escalate-intro"]
    assert [b.payload for b in chat.replies[0].flat_buttons] == ["person", "appt", "menu"]
    async with app.storage.begin() as unit:
        logged = (await unit.orm().scalars(select(UnansweredQuestion))).one()
    assert (logged.text, logged.lang, logged.reason) == (
        "who won the football match yesterday",
        "en",
        "no-match",
    )


async def test_feedback_no_offers_a_person_and_is_logged(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.send("how do I register with a family doctor")
    assert "faq-answer" in chat.keys
    await chat.press("No")
    assert chat.keys == ["feedback-sorry"]
    assert chat.button("person")
    async with app.storage.begin() as unit:
        logged = (await unit.orm().scalars(select(UnansweredQuestion))).one()
    assert logged.reason == "not-helpful"
    assert logged.best_topic == "general-practitioner"


async def test_feedback_yes_thanks(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.press_payload(pl.make(Action.TOPIC, DOCS))
    await chat.press("Yes")
    assert chat.keys == ["feedback-thanks"]


async def test_callback_request_end_to_end(app: App) -> None:
    chat = Chat(app.engine, client_lang="cs")
    await chat.send("/start")
    await chat.press("Čeština")
    await chat.send("jaké doklady potřebuji k prodloužení víza")
    assert "faq-answer" in chat.keys
    await chat.press("👎")
    await chat.press("👤")
    assert chat.keys == ["callback-phone"]
    assert chat.replies[0].request_phone
    await chat.send("tohle není číslo")
    assert chat.keys == ["callback-phone-invalid"]
    await chat.send("777 123 456")
    assert chat.keys == ["callback-time"]
    await chat.press_payload(pl.make(Action.TIME, "afternoon"))
    assert chat.keys == ["callback-question-prefilled"]
    assert "jaké doklady potřebuji k prodloužení víza" in chat.replies[0].text
    await chat.press_payload(pl.make(Action.KEEP_QUESTION))
    assert chat.keys == ["callback-consent"]
    assert "90" in chat.replies[0].text
    assert await _requests(app) == []  # nothing is stored before consent
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert chat.keys == ["callback-done"]
    [request] = await _requests(app)
    assert request.reference in chat.replies[0].text
    assert request.reference == "R-0001"
    assert (request.status, request.lang, request.topic_id) == ("new", "cs", DOCS)
    assert request.phone == "+420777123456"
    assert request.preferred_time == "afternoon"
    assert request.question == "jaké doklady potřebuji k prodloužení víza"


async def test_callback_with_own_question_and_foreign_number(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.press("person")
    await chat.send("+380 67 123 4567")
    await chat.press("Morning")
    assert chat.keys == ["callback-question"]
    await chat.send("My employer wants me to sign something")
    await chat.press("I agree")
    [request] = await _requests(app)
    assert request.phone == "+380671234567"
    assert request.question == "My employer wants me to sign something"
    assert request.topic_id is None


async def test_cancel_at_every_step_stores_nothing(app: App) -> None:
    steps = [
        [],
        ["777123456"],
        ["777123456", "payload:time:evening"],
        ["777123456", "payload:time:evening", "my question"],
    ]
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    for i, inputs in enumerate(steps):
        await chat.press_payload(pl.make(Action.PERSON))
        for item in inputs:
            if item.startswith("payload:"):
                await chat.press_payload(item.removeprefix("payload:"))
            else:
                await chat.send(item)
        if i % 2:
            await chat.send("/cancel")
        else:
            await chat.press("Cancel")
        assert chat.keys == ["cancel-done", "menu-title"]
    await chat.press_payload(pl.make(Action.PERSON))
    await chat.send("777123456")
    await chat.press_payload(pl.make(Action.TIME, "evening"))
    await chat.send("my question")
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=False))
    assert chat.keys == ["callback-declined", "menu-title"]
    assert await _requests(app) == []
    # A stale consent button after cancelling stores nothing either.
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert chat.keys == ["button-invalid", "menu-title"]
    assert await _requests(app) == []


async def test_cancel_keeps_requests_already_stored(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    for _ in range(2):
        await chat.press_payload(pl.make(Action.PERSON))
        await chat.send("777123456")
        await chat.press("Morning")
        await chat.send("question")
        await chat.press("I agree")
    await chat.press("Menu")
    await chat.press("person")
    await chat.send("777123456")
    await chat.send("/cancel")
    assert [r.reference for r in await _requests(app)] == ["R-0001", "R-0002"]


async def test_forged_buttons_are_refused_politely(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    for forged in [
        "topic:does-not-exist",
        "lang:xx",
        "drop table",
        "cat:../../etc",
        "",
        "fb:maybe",
        "x" * 200,
        "time:morning",
        "consent:yes",
    ]:
        await chat.press_payload(forged)
        assert chat.keys == ["button-invalid", "menu-title"], forged
    assert await _requests(app) == []


async def test_non_text_input_gets_a_polite_reply_and_keeps_the_step(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.press("person")
    await chat.send_kind("sticker")
    assert chat.keys == ["input-not-text", "callback-phone"]
    await chat.send("777 123 456")
    assert chat.keys == ["callback-time"]


async def test_shared_contact_is_accepted_as_the_phone(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.press("person")
    await chat.send_kind("contact", phone="+420 601 234 567")
    assert chat.keys == ["callback-time"]


async def test_commands_work_everywhere(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.press("person")
    await chat.send("/help")
    assert chat.keys == ["help-text", "help-privacy"]
    await chat.send("/language")
    assert chat.keys == ["language-choose"]
    await chat.send("Español")  # typing the name of a language picks it
    assert chat.keys == ["language-set", "menu-title"]
    assert chat.replies[0].lang == "es"
    await chat.send("/menu")
    assert chat.keys == ["menu-title"]
    await chat.send("/cancel")
    assert chat.keys == ["cancel-nothing", "menu-title"]
    await chat.send("/frobnicate")
    assert chat.keys == ["command-unknown"]


async def test_deep_link_opens_language_and_topic(app: App) -> None:
    chat = Chat(app.engine)
    await chat.send(f"/start vi__{DOCS}")
    assert chat.keys == ["start-greeting", "disclaimer", "faq-answer"]
    assert chat.replies[-1].lang == "vi"


async def test_restart_resumes_the_conversation_where_it_was(flow_database_url: str) -> None:
    settings = make_settings(flow_database_url)
    first = await build_app(settings, migrate=True)
    chat = Chat(first.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.press("person")
    await chat.send("777123456")
    await first.close()

    second = await build_app(settings, migrate=True)
    chat.engine = second.engine
    await chat.open()
    assert chat.keys == ["callback-time"]
    await chat.press("Evening")
    await chat.send("q")
    await chat.press("I agree")
    assert chat.keys == ["callback-done"]
    [request] = await _requests(second)
    assert request.phone == "+420777123456"
    # Back later (the bot may have stopped before the reference was shown): it is repeated.
    await chat.open()
    assert chat.keys == ["callback-waiting", "menu-title"]
    assert request.reference in chat.replies[0].text
    await second.close()


async def test_concurrent_messages_of_one_user_do_not_corrupt_state(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.press("person")
    events = [Inbound.message("test", "u1", "777123456") for _ in range(5)]
    results = await asyncio.gather(*(app.engine.handle(e) for e in events))
    keys = sorted(r[0].key for r in results)
    # The first one takes the phone; the others arrive at the time step and re-ask it.
    assert keys == ["callback-time"] * 5
    await chat.press_payload(pl.make(Action.TIME, "morning"))
    await chat.send("q")
    await chat.press("I agree")
    assert len(await _requests(app)) == 1


async def test_many_users_at_once_each_get_their_own_request(app: App) -> None:
    async def journey(n: int) -> str:
        chat = Chat(app.engine, user=f"user-{n}", client_lang="en")
        await chat.send("/start")
        await chat.press("English")
        await chat.press("person")
        await chat.send(f"77712{n:04d}")
        await chat.press("Morning")
        await chat.send(f"question {n}")
        await chat.press("I agree")
        return chat.replies[0].text

    texts = await asyncio.gather(*(journey(n) for n in range(8)))
    requests = await _requests(app)
    assert len(requests) == 8
    assert sorted(r.question for r in requests) == sorted(f"question {n}" for n in range(8))
    assert all(any(r.reference in t for t in texts) for r in requests)


async def test_arabic_replies_read_right_to_left(app: App) -> None:
    chat = Chat(app.engine, client_lang="ar")
    await chat.send("/start")
    await chat.press("العربية")
    await chat.press_payload(pl.make(Action.PERSON))
    await chat.send("777123456")
    await chat.press_payload(pl.make(Action.TIME, "morning"))
    await chat.send("سؤالي")
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    done = chat.replies[0]
    assert done.rtl
    assert all(line.startswith(RLM) for line in done.text.splitlines() if line.strip())
    # The reference code is isolated as a left-to-right run, so "R-0001" is not shown as "0001-R".
    assert f"{LRI}R-0001{PDI}" in done.text


async def test_empty_and_huge_messages(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press("English")
    await chat.send("\u200b \u200f ")
    assert chat.keys == ["input-empty"]
    await chat.send("visa " * 5000)
    assert chat.replies  # answered, not crashed


async def test_storage_failure_gets_a_polite_message(app: App) -> None:
    chat = Chat(app.engine, client_lang="cs")
    await app.db.dispose()
    # Break the database on purpose: point the sessions at a table that is gone.
    async with app.db.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE conversation_states")
    await chat.send("ahoj")
    # Greeted back with the menu, which needs no storage; no request can be taken.
    assert chat.keys == ["chatter-greeting", "menu-title", "storage-down"]
    assert chat.replies[0].lang == "cs"
    assert await _count(app, CallbackRequest) == 0


async def test_control_characters_are_cleaned_at_the_edge_on_every_backend(
    database_url: str,
) -> None:
    """A NUL (PostgreSQL refuses it in text) or another control character in what a person
    types never blocks their request: every channel's input is cleaned in `Inbound`."""
    app = await build_app(make_settings(database_url), migrate=True)
    try:
        chat = Chat(app.engine, user="nul\x00user", client_lang="en")
        await chat.send("/start")
        await chat.press_payload(pl.make(Action.LANG, "en"))
        await chat.press_payload(pl.make(Action.PERSON))
        await chat.send("777\x00 123 456")
        await chat.press_payload(pl.make(Action.TIME, "morning"))
        await chat.send("my\x00 letter\x07 from\x1b[31m the office\r\nsecond line")
        await chat.press_payload("consent:yes\x00")
        assert "R-0001" in chat.text, chat.keys
        async with app.storage.begin() as unit:
            [request] = await unit.requests.list_requests()
        assert request.question == "my letter from[31m the office second line"
        assert request.phone == "+420777123456"
    finally:
        await app.close()


def test_phone_digits_of_every_script_are_accepted() -> None:
    from flows.phone import parse_phone

    assert parse_phone("٧٧٧ ١٢٣ ٤٥٦") == "+420777123456"  # Arabic-Indic, as typed in Arabic
    assert parse_phone("۷۷۷۱۲۳۴۵۶") == "+420777123456"  # Persian (extended Arabic-Indic)
    assert parse_phone("＋４２０ ７７７ １２３ ４５６") == "+420777123456"  # full-width
    assert parse_phone("७७७१२३४५६") == "+420777123456"  # Devanagari
    assert parse_phone("777 123 456 ext") is None


async def test_an_arabic_phone_number_is_taken_in_the_conversation(app: App) -> None:
    chat = Chat(app.engine, client_lang="ar")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "ar"))
    await chat.press_payload(pl.make(Action.PERSON))
    await chat.send("٧٧٧ ١٢٣ ٤٥٦")
    assert chat.keys == ["callback-time"]


async def test_a_reference_code_typed_gets_no_offer_to_switch_language(app: App) -> None:
    chat = Chat(app.engine, client_lang="ru")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "ru"))
    for text in ("R-0001", "A-0042", "R-0001?", "777 123 456", "ok"):
        await chat.send(text)
        assert "language-switch-offer" not in chat.keys, (text, chat.keys)
