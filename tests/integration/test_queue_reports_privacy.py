"""The queue lifecycle, the staff CLI, figures for funders, and personal data."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.app import App
from flows import payloads as pl
from flows.payloads import Action
from storage import states
from storage.models import (
    Base,
    CallbackRequest,
    Interaction,
    UnansweredQuestion,
    User,
    utcnow,
)
from storage.reports import Period, to_markdown, to_rows
from storage.states import AppointmentStatus, RequestStatus
from tests.helpers.chat import Chat
from tests.helpers.flows import _book
from tests.helpers.processes import poradna


async def _callback(app: App, user: str, lang: str, question: str, phone: str) -> str:
    chat = Chat(app.engine, user=user, client_lang=lang)
    await chat.request_callback(lang, phone=phone, question=question)
    async with app.storage.begin() as unit:
        return (await unit.requests.list_requests())[-1].reference


def test_lifecycle_allows_only_the_documented_transitions() -> None:
    assert set(states.allowed_from(RequestStatus.CLAIMED)) == {RequestStatus.NEW}
    assert set(states.allowed_from(RequestStatus.CLOSED)) == {
        RequestStatus.NEW,
        RequestStatus.CLAIMED,
        RequestStatus.WAITING,
        RequestStatus.ANSWERED,
    }
    assert RequestStatus.CLOSED not in states.allowed_from(RequestStatus.CLAIMED)
    assert states.TRANSITIONS[RequestStatus.CLOSED] == frozenset()


async def test_impossible_transitions_are_refused_whole(app: App) -> None:
    reference = await _callback(app, "a", "en", "q", "777123456")
    async with app.storage.begin() as unit:
        repo = unit.requests
        assert not await repo.move(reference, RequestStatus.ANSWERED)  # new -> answered: no
        assert await repo.close(reference)
        assert not await repo.claim(reference, 1)  # closed -> claimed: no
    async with app.storage.begin() as unit:
        request = await unit.requests.get(reference)
    assert request and request.status == RequestStatus.CLOSED and request.claimed_by is None


async def test_lifecycle_through_the_desk(app: App) -> None:
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana")
    reference = await _callback(app, "a", "en", "q", "777123456")
    chat = Chat(app.engine, user="a", client_lang="en")

    async def status() -> str:
        async with app.storage.begin() as unit:
            request = await unit.requests.get(reference)
            assert request is not None
            return request.status

    await app.desk.claim("telegram", "501", reference)
    assert await status() == RequestStatus.CLAIMED
    await app.desk.reply("telegram", "501", reference, "Which documents do you have?")
    assert await status() == RequestStatus.WAITING
    await chat.send("Only my passport")
    assert await status() == RequestStatus.ANSWERED
    await app.desk.reply("telegram", "501", reference, "OK")
    assert await status() == RequestStatus.WAITING
    await app.desk.close("telegram", "501", reference)
    assert await status() == RequestStatus.CLOSED
    assert not (await app.desk.reply("telegram", "501", reference, "late")).ok


async def test_report_numbers_match_the_stored_data(app: App) -> None:
    en = Chat(app.engine, user="en1", client_lang="en")
    await en.send("/start")
    await en.press_payload(pl.make(Action.LANG, "en"))
    await en.press_payload(pl.make(Action.TOPIC, "health-insurance"))
    await en.press_payload(pl.yes_no(Action.HELPED, yes=True))
    await en.press_payload(pl.make(Action.TOPIC, "general-practitioner"))
    await en.press_payload(pl.yes_no(Action.HELPED, yes=False))
    await en.send("who won the football yesterday")
    ru = Chat(app.engine, user="ru1", client_lang="ru")
    await ru.send("какие документы нужны для продления внж")
    await _callback(app, "cs1", "cs", "Potřebuji pomoc s dopisem", "777123456")
    await _callback(app, "cs2", "cs", "Dotaz", "777123457")
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana")
    await app.desk.reply("telegram", "501", "R-0001", "Zavolám")
    await app.desk.close("telegram", "501", "R-0001")
    await Chat(app.engine, user="cs1", client_lang="cs").press_payload(pl.rating("R-0001", 4))

    today = utcnow().date()
    async with app.storage.begin() as unit:
        figures = await unit.reports.build(
            Period(today - timedelta(days=1), today + timedelta(days=1))
        )
        stored = await unit.orm().scalar(select(func.count(func.distinct(Interaction.person_key))))
        answers = await unit.orm().scalar(
            select(func.count()).where(Interaction.kind == "faq-answer")
        )
    assert figures["people_served"] == stored == 4
    assert figures["interventions"]["faq_answers"] == answers == 3
    assert figures["interventions"]["callbacks"] == 2
    assert figures["unanswered"] == {"no-match": 1, "none-fits": 0, "not-helped": 1}
    assert figures["by_language"]["cs"]["people"] == 2
    assert figures["by_language"]["cs"]["callbacks"] == 2
    assert figures["by_language"]["ru"]["faq_answers"] == 1
    assert figures["by_topic"]["health-insurance"] == {
        "faq_answers": 1,
        "helped": 1,
        "not_helped": 0,
    }
    assert figures["by_topic"]["general-practitioner"]["not_helped"] == 1
    assert figures["ratings"]["count"] == 1 and figures["ratings"]["4"] == 1
    assert figures["first_response_minutes"]["requests_answered"] == 1
    assert figures["first_response_minutes"]["median"] is not None
    assert sum(m["people"] for m in figures["by_month"].values()) >= 4
    assert "| people served | 4 |" in to_markdown(figures)
    assert ("interventions", "callbacks", "count", 2) in to_rows(figures)

    async with app.storage.begin() as unit:
        before = await unit.reports.build(Period(date(2020, 1, 1), date(2020, 1, 31)))
    assert before["people_served"] == 0 and before["ratings"]["average"] is None


async def test_forget_deletes_everything_after_confirmation(app: App) -> None:
    reference = await _callback(app, "u1", "en", "my private question", "777123456")
    chat = Chat(app.engine, user="u1", client_lang="en")
    await chat.send("who won the football yesterday")
    await chat.send("/forget")
    assert chat.keys == ["privacy-forget-confirm"]
    await chat.press_payload(pl.yes_no(Action.FORGET, yes=False))
    assert chat.keys == ["privacy-kept", "menu-title"]
    await chat.send("/forget")
    await chat.press_payload(pl.yes_no(Action.FORGET, yes=True))
    assert chat.keys == ["privacy-forgotten"]
    assert "1 saved questions, 1 callback requests" in chat.replies[0].text
    async with app.storage.begin() as unit:
        assert await unit.orm().scalar(select(func.count()).select_from(User)) == 0
        assert await unit.orm().scalar(select(func.count()).select_from(UnansweredQuestion)) == 0
        request = await unit.requests.get(reference)
        assert request and request.phone is None and request.question is None
        assert request.status == RequestStatus.CLOSED
        staff_messages = [m for m in await unit.outbox.all() if "777123456" in json.dumps(m.body)]
        assert staff_messages == []
        # Anonymous counts stay for the funders' report.
        assert await unit.orm().scalar(select(func.count()).select_from(Interaction)) >= 2
    await chat.send("/start")  # the person can start afresh
    assert chat.keys == ["start-greeting", "start-choose-language"]


async def test_export_gives_a_persons_data(app: App) -> None:
    reference = await _callback(app, "u1", "en", "my question", "777123456")
    async with app.storage.begin() as unit:
        data = await unit.privacy.export("test", "u1")
    assert data is not None
    assert data["user"]["language"] == "en"
    [request] = data["callback_requests"]
    assert (request["reference"], request["phone"], request["question"]) == (
        reference,
        "+420777123456",
        "my question",
    )
    assert "store your phone number" in request["consent_text"]
    async with app.storage.begin() as unit:
        assert await unit.privacy.export("test", "nobody") is None


async def test_retention_erases_old_personal_data_but_keeps_counts(app: App) -> None:
    reference = await _callback(app, "u1", "en", "old question", "777123456")
    chat = Chat(app.engine, user="u1", client_lang="en")
    await chat.send("who won the football yesterday")
    async with app.storage.begin() as unit:
        await unit.requests.close(reference)
        long_ago = utcnow() - timedelta(days=200)
        await unit.orm().execute(update(CallbackRequest).values(closed_at=long_ago))
        await unit.orm().execute(update(UnansweredQuestion).values(created_at=long_ago))
    async with app.storage.begin() as unit:
        purged = await unit.privacy.purge(timedelta(days=90))
    assert (purged.requests, purged.questions) == (1, 1)
    async with app.storage.begin() as unit:
        request = await unit.requests.get(reference)
        assert request and request.phone is None and request.question is None
        assert request.lang == "en"  # what reports need stays
        assert await unit.orm().scalar(select(func.count()).select_from(UnansweredQuestion)) == 0


@pytest.fixture
def db_env(tmp_path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'poradna.db'}",
        "STAFF_LANGUAGE": "en",
    }


def test_queue_report_and_privacy_commands(db_env: dict[str, str]) -> None:
    script = "English\n👤 Ask a person\n777 123 456\n1\nHelp with a letter\n1\n"
    assert poradna("run", stdin=script, env=db_env).returncode == 0
    early = poradna("queue", "claim", "R-0001", "--staff", "501", env=db_env)
    assert early.returncode == 1 and "poradna staff add" in early.stderr  # says how
    assert poradna("staff", "add", "501", "--name", "Jana", env=db_env).returncode == 0

    shown = json.loads(poradna("queue", "show", "R-0001", "--json", env=db_env).stdout)
    assert shown["phone"] == "+420777123456" and shown["question"] == "Help with a letter"
    assert json.loads(poradna("queue", "list", "--lang", "cs", "--json", env=db_env).stdout) == []
    assert (
        json.loads(poradna("queue", "list", "--older-than", "60", "--json", env=db_env).stdout)
        == []
    )

    refused = poradna("queue", "claim", "R-0001", "--staff", "999", env=db_env)
    assert refused.returncode == 1 and "999 is not a caseworker" in refused.stderr
    assert poradna("queue", "claim", "R-0001", "--staff", "501", env=db_env).returncode == 0
    replied = poradna(
        "queue", "reply", "R-0001", "I will call at 10", "--staff", "501", env=db_env
    )
    assert replied.returncode == 0, replied.stderr
    listed = json.loads(poradna("queue", "list", "--json", env=db_env).stdout)
    assert listed[0]["status"] == "waiting-for-migrant"
    # The console user sees the caseworker's answer when they come back.
    back = poradna("run", stdin="", env=db_env)
    assert "I will call at 10" in back.stdout
    assert poradna("queue", "close", "R-0001", "--staff", "501", env=db_env).returncode == 0
    again = poradna("queue", "close", "R-0001", "--staff", "501", env=db_env)
    assert again.returncode == 1 and "no open request" in again.stderr

    today = utcnow().date().isoformat()
    report = json.loads(
        poradna("report", "--from", today, "--to", today, "--format", "json", env=db_env).stdout
    )
    assert report["interventions"]["callbacks"] == 1 and report["people_served"] == 1
    csv_out = poradna("report", "--from", today, "--to", today, "--format", "csv", env=db_env)
    assert csv_out.stdout.startswith("section,key,measure,value")
    md = poradna("report", "--from", today, "--to", today, env=db_env).stdout
    assert "| people served | 1 |" in md
    bad = poradna("report", "--from", "2026-13-01", "--to", today, env=db_env)
    assert bad.returncode == 2

    exported = json.loads(
        poradna("privacy", "export", "--user", "local", "--channel", "console", env=db_env).stdout
    )
    assert exported["callback_requests"][0]["phone"] == "+420777123456"
    purged = poradna("privacy", "purge", env=db_env)
    assert purged.returncode == 0 and "Erased after 90 days" in purged.stdout


SECRETS = ("777123456", "777 123 456", "777111222", "777 111 222", "my private question")
# The thread: what the person and the caseworker wrote, and a photo's file id and caption.
FILE_ID = "AgACAgIAAxkBAAIBQ2secretletterphoto"
SAID = ("relayed secret words", "caseworker secret answer", FILE_ID, "secret caption words")


async def _everything_stored(app: App) -> str:
    """Every row of every table, as text."""
    dump: list[str] = []
    async with app.db.connect() as connection:
        for table in Base.metadata.sorted_tables:
            dump.extend(repr(tuple(row)) for row in await connection.execute(select(table)))
    return "\n".join(dump)


def _files_of(app: App) -> dict[str, bytes]:
    """The SQLite database file and its write-ahead log and shared memory, as bytes."""
    database = Path(app.settings.database_url.split("///", 1)[1])
    files = [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
    return {f.name: f.read_bytes() for f in files if f.exists()}


async def test_forget_leaves_no_phone_or_text_in_any_table_or_file_and_export_had_all(
    app: App,
) -> None:
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana")
    await _book(app, lang="en", user="u1", channel="telegram")  # phone 777 123 456
    chat = Chat(app.engine, user="u1", channel="telegram", client_lang="en")
    await chat.send("/menu")
    await chat.press_payload(pl.make(Action.PERSON))
    await chat.send("777 111 222")
    await chat.press_payload(pl.make(Action.TIME, "morning"))
    await chat.send("my private question")
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert "R-0001" in chat.text
    await app.desk.reply("telegram", "501", "R-0001", "caseworker secret answer")
    await chat.send("relayed secret words")
    await chat.send_kind("photo", media_ref=FILE_ID, text="secret caption words")
    assert chat.keys == ["case-media-relayed"]

    async with app.storage.begin() as unit:
        exported = json.dumps(await unit.privacy.export("telegram", "u1"))
    for secret in ("+420777123456", "+420777111222", "my private question", *SAID):
        assert secret in exported, secret
    before = await _everything_stored(app)
    assert all(s in before for s in SAID)

    await chat.send("/forget")
    await chat.press_payload(pl.yes_no(Action.FORGET, yes=True))
    assert chat.keys == ["privacy-forgotten"]

    stored = await _everything_stored(app)
    for secret in (*SECRETS, *SAID):
        assert secret not in stored, secret
    if app.settings.is_sqlite:
        # Not in the free pages of the file, nor in the write-ahead log waiting for a
        # checkpoint: erased means gone from the disk.
        for name, content in _files_of(app).items():
            for secret in (*SECRETS, *SAID):
                assert secret.encode() not in content, (name, secret)


async def test_an_open_request_is_warned_about_then_closed_and_erased_at_retention(
    app: App,
) -> None:
    """The consent text promises RETENTION_DAYS: a request still open then is not kept for
    ever. Its caseworker is told a week before; at the end it is closed and erased."""
    chat = Chat(app.engine, user="u1", client_lang="en")
    await chat.request_callback(agree=False, phone="777123456", question="old question")
    assert "if your request is still open then" in chat.text.casefold()
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    await _book(app, lang="en", user="u2")
    retention = timedelta(days=90)
    created = utcnow()

    assert await app.desk.warn_before_retention(retention, created + timedelta(days=80)) == 0
    assert await app.desk.warn_before_retention(retention, created + timedelta(days=84)) == 2
    assert await app.desk.warn_before_retention(retention, created + timedelta(days=85)) == 0
    warnings = await _staff_messages(app, "staff-retention-warning")
    assert sorted(m.reference for m in warnings) == ["A-0001", "R-0001"]
    assert all("90" in m.body["text"] for m in warnings)

    async with app.storage.begin() as unit:
        purged = await unit.privacy.purge(retention, created + timedelta(days=91))
    assert purged.requests == 2
    async with app.storage.begin() as unit:
        request = await unit.requests.get("R-0001")
        [appointment] = await unit.appointments.list_appointments()
    assert request and request.status == RequestStatus.CLOSED
    assert request.phone is None and request.question is None
    assert appointment.status == AppointmentStatus.CANCELLED and appointment.phone is None
    stored = await _everything_stored(app)
    assert "777123456" not in stored and "old question" not in stored


async def _staff_messages(app: App, key: str) -> list:
    async with app.storage.begin() as unit:
        return [m for m in await unit.outbox.all() if m.body["key"] == key]
