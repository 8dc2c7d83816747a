"""Appointment requests: kind, place, office, a working day, part of day, phone, consent."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.app import App
from faq.offices import check_offices
from flows import payloads as pl
from flows.calendar import PRAGUE, day_label, today_in_prague, when_label, working_days
from flows.payloads import Action
from locales import LANGUAGES
from storage.models import utcnow
from storage.states import AppointmentStatus
from tests.helpers.chat import Chat
from tests.helpers.flows import _book
from tests.helpers.processes import poradna


def test_working_days_skip_weekends_and_czech_holidays() -> None:
    days = working_days(date(2026, 12, 18))  # a Friday before Christmas
    assert len(days) == 14
    assert all(d.weekday() < 5 for d in days)
    for holiday in (date(2026, 12, 24), date(2026, 12, 25), date(2027, 1, 1)):
        assert holiday not in days
    assert days[0] == date(2026, 12, 21)
    assert working_days(date(2026, 11, 13))[:2] == [date(2026, 11, 16), date(2026, 11, 18)]


def test_dates_are_written_for_each_language() -> None:
    day = date(2026, 11, 30)
    assert day_label(day, "cs") == "po 30. 11."
    assert day_label(day, "en") == "Mon, Nov 30"
    moment = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 in Prague
    assert "10:00" in when_label(moment, "ru") and "ноября" in when_label(moment, "ru")
    summer = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # 10:00 in Prague (CEST)
    assert "10:00" in when_label(summer, "en")


def test_shipped_offices_are_valid_and_marked_as_examples() -> None:
    offices, problems = check_offices()
    assert problems == []
    assert offices and all(o.example for o in offices)


def test_office_file_errors_name_the_line(tmp_path) -> None:
    bad = tmp_path / "offices.yaml"
    bad.write_text(
        "offices:\n  - id: x\n    name: X\n    address: A\n    kinds: [dancing]\n"
        "    languages: [xx]\n",
        "utf-8",
    )
    problems = [str(p) for p in check_offices(bad)[1]]
    assert (
        f"{bad}:2: x: unknown kind 'dancing'; use consultation-social, consultation-legal, "
        "interpreting, accompaniment" in problems
    )
    assert f"{bad}:2: x: unknown language code 'xx'; supported: {', '.join(LANGUAGES)}" in problems


async def test_booking_stores_a_requested_appointment_and_tells_the_desk(app: App) -> None:
    chat = await _book(app)
    assert "A-0001" in chat.replies[0].text
    async with app.storage.begin() as unit:
        [appointment] = await unit.appointments.list_appointments()
        desk = [m for m in await unit.outbox.all() if m.channel == "staff"]
    assert appointment.status == AppointmentStatus.REQUESTED
    assert (appointment.kind, appointment.place, appointment.office_id) == (
        "accompaniment",
        "oamp",
        "example-brno",
    )
    assert appointment.preferred_day == working_days(today_in_prague(utcnow()))[2]
    assert appointment.part_of_day == "afternoon" and appointment.phone == "+420777123456"
    assert "A-0001" in desk[0].body["text"] and "/confirm A-0001" in desk[0].body["text"]


async def test_stale_or_forged_days_and_steps_are_refused(app: App) -> None:
    chat = Chat(app.engine, client_lang="en")
    await chat.send("/start")
    await chat.press_payload(pl.make(Action.LANG, "en"))
    await chat.press_payload(pl.make(Action.APPOINTMENT))
    await chat.press_payload(pl.make(Action.KIND, "consultation-legal"))
    await chat.press_payload(pl.make(Action.OFFICE, "example-plzen"))
    await chat.press_payload(pl.make(Action.DAY, "2020-01-01"))
    assert chat.keys == ["button-invalid", "menu-title"]
    await chat.press_payload(pl.make(Action.PART, "morning"))
    assert chat.keys == ["button-invalid", "menu-title"]
    await chat.press_payload(pl.make(Action.KIND, "dancing"))
    assert chat.keys == ["button-invalid", "menu-title"]


async def test_confirm_remind_and_cancel(app: App) -> None:
    chat = await _book(app, lang="ru")
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana")
    when = (datetime.now(PRAGUE) + timedelta(days=3)).replace(hour=10, minute=30)
    local = when.strftime("%Y-%m-%d %H:%M")
    assert not (await app.desk.confirm("telegram", "501", "A-0001", "tomorrow-ish")).ok
    assert not (await app.desk.confirm("telegram", "999", "A-0001", local)).ok
    outcome = await app.desk.confirm("telegram", "501", "A-0001", local)
    assert outcome.ok
    [confirmed] = await app.engine.collect("test", "u1")
    assert confirmed.key == "appointment-confirmed" and confirmed.lang == "ru"
    assert "10:30" in confirmed.text and "Example Square 2" in confirmed.text
    async with app.storage.begin() as unit:
        appointment = await unit.appointments.get("A-0001")
    assert appointment and appointment.status == AppointmentStatus.CONFIRMED
    assert appointment.starts_at == when.astimezone(UTC).replace(second=0, microsecond=0)

    assert await app.desk.send_reminders(now=utcnow()) == 0  # not tomorrow yet
    day_before = when - timedelta(days=1, hours=2)
    assert await app.desk.send_reminders(now=day_before) == 1
    assert await app.desk.send_reminders(now=day_before) == 0  # once only
    [reminder] = await app.engine.collect("test", "u1")
    assert reminder.key == "appointment-reminder" and "10:30" in reminder.text

    await chat.press_payload(confirmed.flat_buttons[0].payload)  # the person cancels
    assert chat.keys == ["appointment-cancelled"]
    async with app.storage.begin() as unit:
        appointment = await unit.appointments.get("A-0001")
        desk = [m.body["text"] for m in await unit.outbox.all() if m.channel == "staff"]
    assert appointment and appointment.status == AppointmentStatus.CANCELLED
    assert app.engine.staff_t("staff-appointment-cancelled", reference="A-0001") in desk
    await chat.press_payload(confirmed.flat_buttons[0].payload)  # twice: refused
    assert chat.keys == ["button-invalid", "menu-title"]
    assert not (await app.desk.settle("telegram", "501", "A-0001", AppointmentStatus.DONE)).ok


async def test_staff_cancels_and_the_person_is_told(app: App) -> None:
    await _book(app, lang="en")
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", "501", "Jana")
    assert (await app.desk.settle("telegram", "501", "A-0001", AppointmentStatus.CANCELLED)).ok
    [message] = await app.engine.collect("test", "u1")
    assert message.key == "appointment-cancelled-by-staff"


async def test_someone_elses_appointment_cannot_be_cancelled(app: App) -> None:
    await _book(app, lang="en", user="owner")
    other = Chat(app.engine, user="other", client_lang="en")
    await other.send("/start")
    await other.press_payload(pl.make(Action.CANCEL_APPOINTMENT, "A-0001"))
    assert other.keys[0] == "button-invalid"
    async with app.storage.begin() as unit:
        appointment = await unit.appointments.get("A-0001")
    assert appointment and appointment.status == AppointmentStatus.REQUESTED


@pytest.fixture
def db_env(tmp_path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", "STAFF_LANGUAGE": "en"}


def test_appointment_commands(db_env: dict[str, str]) -> None:
    script = "English\n📅 Book an appointment\nLegal consultation\n1\n1\n1\n777123456\n1\n"
    result = poradna("run", stdin=script, env=db_env)
    assert "A-0001" in result.stdout, result.stdout[-2000:]
    listed = json.loads(
        poradna("queue", "list", "--kind", "appointment", "--json", env=db_env).stdout
    )
    assert [(a["reference"], a["status"]) for a in listed] == [("A-0001", "requested")]
    assert poradna("staff", "add", "501", "--name", "Jana", env=db_env).returncode == 0
    when = (datetime.now(PRAGUE) + timedelta(days=2)).strftime("%Y-%m-%d 09:15")
    confirmed = poradna("queue", "confirm", "A-0001", "--at", when, "--staff", "501", env=db_env)
    assert confirmed.returncode == 0, confirmed.stderr
    assert "09:15" in poradna("run", stdin="", env=db_env).stdout
    assert poradna("queue", "done", "A-0001", "--staff", "501", env=db_env).returncode == 0
    shown = json.loads(poradna("queue", "show", "A-0001", "--json", env=db_env).stdout)
    assert shown["status"] == "done"
