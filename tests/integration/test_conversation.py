"""A conversation that feels human, in five languages: greeted back, answered, a follow-up
answered in the context of the last answer, thanked, two questions at once, "are you a bot?",
"I want a person"; small talk never lands among the unanswered questions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App
from faq.normalize import clean
from flows import payloads as pl
from flows.payloads import Action
from storage.models import Interaction, UnansweredQuestion
from tests.helpers.chat import Chat

DOCS = "residence-extension-documents"

# Per language: greeting, the extension question, "and how much does it cost?" (from the
# issue), thanks, a two-question message (each question whole: how well the matcher divides
# messages is measured on the blind set), "are you a bot?", "I want a person".
JOURNEYS = {
    "ru": (
        "привет",
        "какие документы нужны для продления визы?",
        "а сколько это стоит?",
        "спасибо",
        "какие документы нужны для продления и до какого срока подать заявление?",
        "ты бот?",
        "хочу поговорить с живым человеком",
    ),
    "uk": (
        "добрий день",
        "які документи потрібні для продовження посвідки?",
        "а скільки це коштує?",
        "дякую",
        "які документи для продовження і до якого терміну подати заяву?",
        "ти бот?",
        "хочу поговорити з людиною",
    ),
    "vi": (
        "xin chao",
        "gia hạn thẻ cư trú cần giấy tờ gì?",
        "và bao nhiêu tiền?",
        "cam on",
        "gia hạn thẻ cần giấy tờ gì? và hạn chót nộp đơn gia hạn là khi nào?",
        "bạn là robot à?",
        "tôi muốn nói chuyện với người thật",
    ),
    "ar": (
        "مرحبا",
        "ما هي الوثائق المطلوبة لتجديد الإقامة؟",
        "هل يجب أن أدفع شيئا؟",
        "شكرا",
        "ما هي الوثائق المطلوبة لتجديد الإقامة؟ وما هو آخر موعد لتقديم طلب التجديد؟",
        "هل انت روبوت؟",
        "اريد التحدث مع شخص",
    ),
    "fr": (
        "Bonjour",
        "quels documents pour renouveler mon titre de séjour ?",
        "et c'est payant ?",
        "merci",
        "quels documents pour la prolongation ? et quel délai pour demander la prolongation ?",
        "tu es un robot ?",
        "je veux parler à une personne",
    ),
}


async def _unanswered(app: App) -> int:
    async with app.storage.begin() as unit:
        return int(await unit.orm().scalar(select(func.count()).select_from(UnansweredQuestion)))


@pytest.mark.parametrize("lang", sorted(JOURNEYS))
async def test_a_conversation_in_the_persons_language(app: App, lang: str) -> None:
    greeting, question, fee, thanks, two, bot, person = JOURNEYS[lang]
    chat = Chat(app.engine, client_lang=lang)
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, lang))

    await chat.send(greeting)
    assert chat.keys == ["chatter-greeting", "menu-title"]
    assert {r.lang for r in chat.replies} == {lang}

    await chat.send(question)
    assert chat.keys[-1] == "faq-answer"
    # The follow-up is answered with the topic's fee, in the person's language.
    await chat.send(fee)
    assert chat.keys == ["faq-followup"]
    fees = app.engine.faq.topics[DOCS].translation(lang).followups["fee"].answer
    shown = clean(chat.replies[0].text)  # without the marks that keep Arabic in order
    assert shown.startswith(fees.splitlines()[0])
    assert "2 500" in shown or "2,500" in shown or "2.500" in shown

    await chat.send(thanks)
    assert chat.keys == ["chatter-thanks"]
    assert chat.button("☰")  # "anything else?" with the menu

    await chat.send(two)
    assert chat.keys[0] == "faq-answer"
    # The other question, one tap away: of the documents and the deadline, the one not
    # answered, and only once (not again among "not what you asked?").
    topics = app.engine.faq.topics
    pair = (DOCS, "residence-extension-deadline")
    answered = next(
        t
        for t in pair
        if clean(topics[t].translation(lang).question) == clean(chat.replies[0].title or "")
    )
    other = clean(topics[next(t for t in pair if t != answered)].title(lang))
    also = next(r for r in chat.replies if r.key == "answer-also")
    assert [clean(b.label) for b in also.flat_buttons] == [other]
    for reply in chat.replies:
        if reply.key == "answer-alternatives":
            assert other not in [clean(b.label) for b in reply.flat_buttons]

    await chat.send(bot)
    assert chat.keys == ["chatter-bot"]
    assert chat.button(app.engine.locales.get(lang)("buttons-person"))

    await chat.send(person)
    assert chat.keys == ["chatter-human", "callback-phone"]

    # Small talk is counted as small talk, never as a question the FAQ did not answer.
    assert await _unanswered(app) == 0
    async with app.storage.begin() as unit:
        kinds = list(await unit.orm().scalars(select(Interaction.kind)))
    assert kinds.count("chatter") == 4  # greeting, thanks, bot, person


async def test_a_follow_up_is_read_in_context_only_for_a_while(app: App) -> None:
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    app.engine.services.clock = lambda: now
    chat = Chat(app.engine, client_lang="ru")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "ru"))
    await chat.send("какие документы нужны для продления визы?")
    assert chat.keys[-1] == "faq-answer"
    now += timedelta(minutes=20)
    await chat.send("а для детей?")
    assert chat.keys == ["faq-followup"]
    children = app.engine.faq.topics[DOCS].translation("ru").followups["for-children"].answer
    assert clean(chat.replies[0].text).startswith(children.splitlines()[0])
    # The follow-up refreshed the context; an hour later it is gone.
    now += timedelta(hours=1)
    await chat.send("а сколько это стоит?")
    assert "faq-followup" not in chat.keys


async def test_goodbye_and_frustration_are_answered_in_kind(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "en"))
    await chat.send("bye, have a nice day")
    assert chat.keys == ["chatter-goodbye"]
    await chat.send("this is useless, you are a stupid bot")
    assert chat.keys == ["chatter-frustration"]
    assert chat.button("person")
    assert await _unanswered(app) == 0


async def test_a_single_guess_is_offered_beside_a_person(app: App) -> None:
    """No one-button "did you mean?" with "none of these": the one topic that may help
    offered beside a person, an appointment and the menu."""
    text = "how can i get czech citizenship, i've been here 12 years"
    match = app.engine.understanding.read(text)
    assert (match.decision, [c.topic for c in match.candidates]) == (
        "clarify",
        ["permanent-residence"],
    )
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "en"))
    await chat.send(text)
    assert chat.keys == ["clarify-maybe"]
    labels = [b.label for b in chat.replies[0].flat_buttons]
    assert labels[0] == app.engine.faq.topics["permanent-residence"].title("en")
    assert chat.button("person") and chat.button("appointment")
    assert await _unanswered(app) == 1  # the coordinators see what the FAQ did not cover


async def test_a_phone_number_is_never_a_question(app: App) -> None:
    """A number typed on its own neither replaces the person's question in the callback's
    "keep your question" nor reaches the coordinators' list of unanswered questions."""
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "en"))
    await chat.send("my landlord keeps my deposit, what can i do")
    await chat.send("777 123 456")
    await chat.send("call me please on +420 777 123 456")
    await chat.press_payload(pl.make(Action.PERSON))
    await chat.send("777 123 456")
    await chat.press_payload(pl.make(Action.TIME, "morning"))
    assert chat.keys == ["callback-question-prefilled"]
    assert "“my landlord keeps my deposit, what can i do”" in chat.replies[0].text
    async with app.storage.begin() as unit:
        logged = list(await unit.orm().scalars(select(UnansweredQuestion.text)))
    assert "777" not in " ".join(logged)
    assert "my landlord keeps my deposit, what can i do" in logged
