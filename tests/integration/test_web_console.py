"""The web console over real HTTP on the test database: sessions, CSRF, the Origin check,
roles, throttling, deactivation, escaping, canned replies and personal data."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime

from bot.app import App
from bot.web.strings import load_console_strings
from flows import payloads as pl
from flows.payloads import Action
from tests.helpers.chat import Chat
from tests.helpers.console import add_account, browser, console_server


async def _request(app: App, lang: str = "en", question: str = "question") -> Chat:
    chat = Chat(app.engine, channel="console", user="p1", client_lang=lang)
    await chat.request_callback(lang, question=question)
    return chat


async def _status(app: App, reference: str = "R-0001") -> str:
    async with app.storage.begin() as unit:
        request = await unit.requests.get(reference)
    assert request is not None
    return request.status


async def test_no_page_or_action_without_a_session(app: App) -> None:
    await _request(app)
    async with console_server(app) as server, browser(server) as b:
        for path in ("/desk/queue", "/desk/case/R-0001", "/desk/reports", "/desk/admin/staff"):
            status, _ = await b.get(path)
            assert status == 303, path  # to the login page
        status, _ = await b.post("/desk/case/R-0001/claim", csrf=False)
        assert status == 401
        _, page = await b.get("/desk/queue/rows")
        assert "R-0001" not in page
    assert await _status(app) == "new"


async def test_a_form_without_the_csrf_token_or_from_another_site_is_refused(app: App) -> None:
    await _request(app)
    await add_account(app, "jana")
    async with console_server(app) as server, browser(server) as b:
        assert await b.login("jana") == 303
        status, _ = await b.post("/desk/case/R-0001/claim", csrf=False)
        assert status == 403
        status, _ = await b.post("/desk/case/R-0001/claim", origin="https://evil.example")
        assert status == 403
        assert await _status(app) == "new"
        status, _ = await b.post("/desk/case/R-0001/claim")
        assert status == 303
    assert await _status(app) == "claimed"


async def test_a_caseworker_cannot_reach_coordinators_or_admins_pages(app: App) -> None:
    await add_account(app, "jana")
    await add_account(app, "petr", role="coordinator")
    async with console_server(app) as server:
        async with browser(server) as b:
            await b.login("jana")
            for path in ("/desk/admin/staff", "/desk/reports", "/desk/faq", "/desk/canned"):
                assert (await b.get(path))[0] == 403, path
            assert (await b.post("/desk/admin/staff/1", {"role": "admin"}))[0] == 403
        async with browser(server) as b:
            await b.login("petr")
            assert (await b.get("/desk/reports"))[0] == 200
            assert (await b.get("/desk/admin/staff"))[0] == 403
    async with app.storage.begin() as unit:
        assert {s.login: s.role for s in await unit.accounts.all_staff()}["jana"] == "caseworker"


async def test_a_deactivated_account_is_logged_out_at_once(app: App) -> None:
    await add_account(app, "jana")
    await add_account(app, "admin", role="admin")
    async with console_server(app) as server, browser(server) as jana, browser(server) as admin:
        await jana.login("jana")
        assert (await jana.get("/desk/queue"))[0] == 200
        await admin.login("admin")
        async with app.storage.begin() as unit:
            member = await unit.accounts.staff_by_login("jana")
        assert member is not None
        status, _ = await admin.post(f"/desk/admin/staff/{member.id}", {"active": "0"})
        assert status == 303
        assert (await jana.get("/desk/queue"))[0] == 303
        assert await jana.login("jana") == 401  # and cannot log in again


async def test_logout_ends_the_session_and_wrong_passwords_are_throttled(app: App) -> None:
    await add_account(app, "jana")
    async with console_server(app) as server, browser(server) as b:
        assert await b.login("jana", "wrong password") == 401
        assert await b.login("jana") == 303
        assert (await b.post("/desk/logout"))[0] == 303
        assert (await b.get("/desk/queue"))[0] == 303
        statuses = [await b.login("jana", "wrong password") for _ in range(4)]
        assert statuses[-1] == 429  # the sixth attempt in 15 minutes
        assert await b.login("jana") == 429  # even with the right password, for now


async def test_a_migrants_html_is_shown_as_text(app: App) -> None:
    await _request(app, question='<script>alert("x")</script><b>bold</b>')
    await add_account(app, "jana")
    async with console_server(app) as server, browser(server) as b:
        await b.login("jana")
        status, page = await b.get("/desk/case/R-0001")
    assert status == 200
    assert "<script>alert" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold" in page


async def test_the_case_page_is_not_cached_and_who_opened_it_is_kept(app: App) -> None:
    await _request(app)
    await add_account(app, "jana")
    async with console_server(app) as server, browser(server) as b:
        await b.login("jana")
        async with b.http.get(b.url("/desk/case/R-0001")) as response:
            assert response.headers["Cache-Control"] == "no-store"
            assert "+420777123456" in await response.text()
    async with app.storage.begin() as unit:
        audit = await unit.audit.of("R-0001")
    assert [(a.author, a.action) for a in audit] == [("Jana", "open")]


async def test_a_canned_reply_comes_in_the_persons_language(app: App) -> None:
    await _request(app, lang="ar", question="أحتاج مساعدة")
    await add_account(app, "petr", role="coordinator")
    async with console_server(app) as server, browser(server) as b:
        await b.login("petr")
        for lang, text in (("en", "Bring your passport."), ("ar", "أحضر جواز سفرك.")):
            form = {"name": "documents", "lang": lang, "title": "Documents", "text": text}
            assert (await b.post("/desk/canned", form))[0] == 303
        _, page = await b.get("/desk/case/R-0001?canned=documents")
    assert "أحضر جواز سفرك." in page and "Bring your passport." not in page


async def test_notes_are_exported_and_forgotten_with_the_person(app: App) -> None:
    chat = await _request(app)
    await add_account(app, "jana")
    async with console_server(app) as server, browser(server) as b:
        await b.login("jana")
        assert (await b.post("/desk/case/R-0001/note", {"text": "called, no answer"}))[0] == 303
    async with app.storage.begin() as unit:
        exported = await unit.privacy.export("console", "p1")
    assert exported is not None
    assert [n["text"] for n in exported["case_notes"]] == ["called, no answer"]
    await chat.send("/forget")
    await chat.press_payload(pl.yes_no(Action.FORGET, yes=True))
    assert chat.keys == ["privacy-forgotten"]
    async with app.storage.begin() as unit:
        assert await unit.notes.of("R-0001") == []


async def test_expired_sessions_are_deleted_by_the_maintenance_loop(app: App) -> None:
    """Sessions nobody uses again (a browser closed without logging out) do not stay in the
    database: the loop `poradna run` runs deletes those idle past 12 hours or older than 7
    days, and keeps the live ones."""
    import asyncio
    from datetime import timedelta

    from sqlalchemy import select, update

    from bot.telegram.factory import maintain
    from bot.web import auth
    from storage.models import StaffSession, utcnow

    await add_account(app, "jana")
    async with console_server(app) as server, browser(server) as live:
        assert await live.login("jana") == 303
        async with app.storage.begin() as unit:
            member = await unit.accounts.staff_by_login("jana")
            assert member is not None
            for name in ("idle", "old"):
                await unit.accounts.open_session(member.id, auth.token_hash(name), "csrf")
            orm = unit.orm()
            now = utcnow()
            await orm.execute(
                update(StaffSession)
                .where(StaffSession.token_hash == auth.token_hash("idle"))
                .values(seen_at=now - auth.IDLE - timedelta(minutes=1))
            )
            await orm.execute(
                update(StaffSession)
                .where(StaffSession.token_hash == auth.token_hash("old"))
                .values(created_at=now - auth.LIFETIME - timedelta(minutes=1))
            )

        async def sessions() -> int:
            async with app.storage.begin() as unit:
                return len((await unit.orm().scalars(select(StaffSession))).all())

        assert await sessions() == 3

        class Sender:
            def wake(self) -> None:
                pass

        loop = asyncio.create_task(maintain(app, Sender()))
        try:
            for _ in range(200):
                if await sessions() == 1:
                    break
                await asyncio.sleep(0.05)
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        assert await sessions() == 1
        assert (await live.get("/desk/queue"))[0] == 200  # the live session is kept


async def test_the_case_page_says_what_the_messenger_sender_will_do(app: App) -> None:
    """The page applies the sender's own rule (flows/window.py with
    MESSENGER_HUMAN_AGENT_DAYS): within 24 hours of the person's last message a normal reply,
    then the HUMAN_AGENT tag until the 7th day, then the person cannot be reached there."""
    from datetime import timedelta

    from sqlalchemy import update

    from flows.calendar import PRAGUE
    from storage.models import ConversationState, utcnow

    chat = Chat(app.engine, channel="messenger", user="psid-1", client_lang="en")
    await chat.request_callback("en", question="question")
    await add_account(app, "jana")
    t = load_console_strings(app.settings.staff_language)

    async def wrote(ago: timedelta) -> datetime:
        at = utcnow() - ago
        async with app.storage.begin() as unit:
            await unit.orm().execute(update(ConversationState).values(updated_at=at))
        return at

    def prague(moment: datetime) -> str:
        return moment.astimezone(PRAGUE).strftime("%Y-%m-%d %H:%M")

    def shown(page: str) -> str:
        found = re.search(r'<dd id="window"[^>]*>([^<]*)</dd>', page)
        assert found, page
        return found.group(1)

    async with console_server(app) as server, browser(server) as b:
        await b.login("jana")
        at = await wrote(timedelta(hours=2))
        until = prague(at + timedelta(hours=24))
        assert shown((await b.get("/desk/case/R-0001"))[1]) == t("case-window-open", until=until)
        at = await wrote(timedelta(days=2))
        until = prague(at + timedelta(days=7))
        assert shown((await b.get("/desk/case/R-0001"))[1]) == t(
            "case-window-human-agent", until=until
        )
        await wrote(timedelta(days=7, minutes=1))
        assert shown((await b.get("/desk/case/R-0001"))[1]) == t("case-window-closed")
    await _request(app)  # a console person: no window on their case
    async with console_server(app) as server, browser(server) as b:
        await b.login("jana")
        assert 'id="window"' not in (await b.get("/desk/case/R-0002"))[1]


async def test_the_window_follows_messenger_human_agent_days(app: App) -> None:
    """Without the tag (MESSENGER_HUMAN_AGENT_DAYS=0) the sender gives up after 24 hours, and
    so does the page."""
    from dataclasses import replace
    from datetime import timedelta

    from sqlalchemy import update

    from storage.models import ConversationState, utcnow

    chat = Chat(app.engine, channel="messenger", user="psid-1", client_lang="en")
    await chat.request_callback("en", question="question")
    await add_account(app, "jana")
    async with app.storage.begin() as unit:
        await unit.orm().execute(
            update(ConversationState).values(updated_at=utcnow() - timedelta(days=2))
        )
    untagged = replace(
        app, settings=app.settings.model_copy(update={"messenger_human_agent_days": 0})
    )
    async with console_server(untagged) as server, browser(server) as b:
        await b.login("jana")
        _, page = await b.get("/desk/case/R-0001")
    assert 'class="window-closed"' in page


def _textarea(page: str) -> str:
    import html

    found = re.search(r'<textarea name="text"[^>]*id="reply-text"[^>]*>([^<]*)</textarea>', page)
    assert found, page
    return html.unescape(found.group(1))


async def test_the_default_checklist_comes_in_arabic_and_coordinators_edit_it(app: App) -> None:
    """A new installation has the default canned replies; a caseworker on an Arabic case picks
    the documents checklist and gets (and sends) the Arabic one; a coordinator's edit is what
    caseworkers get from then on, and a restart does not bring the defaults back."""
    from bot.web.canned import load_defaults

    arabic = next(
        c.text for c in load_defaults() if c.name == "documents-checklist" and c.lang == "ar"
    )
    await _request(app, lang="ar", question="ما هي الوثائق المطلوبة؟")
    await add_account(app, "jana")
    await add_account(app, "petr", role="coordinator")
    async with console_server(app) as server, browser(server) as jana:
        await jana.login("jana")
        _, page = await jana.get("/desk/case/R-0001")
        assert 'value="documents-checklist"' in page and 'value="office-hours"' in page
        _, page = await jana.get("/desk/case/R-0001?canned=documents-checklist")
        draft = _textarea(page)
        assert draft == arabic and "جواز سفر ساري المفعول" in draft
        assert (await jana.post("/desk/case/R-0001/claim"))[0] == 303
        assert (await jana.post("/desk/case/R-0001/reply", {"text": draft}))[0] == 303
        *_, told = await app.engine.collect("console", "p1")  # after "R-0001 is handled"
        assert told.key == "caseworker-message"
        assert arabic in re.sub("[\u200e\u200f\u2066-\u2069]", "", told.text)  # bidi marks

        _, page = await jana.get("/desk/case/R-0001?canned=office-hours")
        hours = _textarea(page)
        assert hours.startswith("أين ومتى تجدنا:")
        for office in app.desk.offices.values():  # from OFFICES_FILE, not the YAML
            assert f"- {office.name}, {office.address}: {office.hours}" in hours

        async with browser(server) as petr:
            await petr.login("petr")
            _, page = await petr.get("/desk/canned")
            assert "جواز سفر ساري المفعول" in page  # the defaults, editable
            form = {
                "name": "documents-checklist",
                "lang": "ar",
                "title": "قائمة الوثائق",
                "text": "أحضر جواز سفرك وعقد السكن.",
            }
            assert (await petr.post("/desk/canned", form))[0] == 303
            form = {"name": "call-tomorrow", "lang": "ar"}
            assert (await petr.post("/desk/canned/delete", form))[0] == 303
        _, page = await jana.get("/desk/case/R-0001?canned=documents-checklist")
        assert _textarea(page) == "أحضر جواز سفرك وعقد السكن."
    async with console_server(app) as server, browser(server) as jana:  # started again
        await jana.login("jana")
        _, page = await jana.get("/desk/case/R-0001?canned=documents-checklist")
        assert _textarea(page) == "أحضر جواز سفرك وعقد السكن."
    async with app.storage.begin() as unit:
        canned = await unit.canned.all()
    assert ("call-tomorrow", "ar") not in {(c.name, c.lang) for c in canned}
    assert len(canned) == len(load_defaults()) - 1


async def test_appointments_are_confirmed_moved_and_settled_from_the_console(app: App) -> None:
    """The date picker's value is Prague time (winter and summer alike); the person is told
    the time in their language, again when it is moved, and when the office cancels; done and
    no-show are the desk's own business."""
    from datetime import UTC

    from flows.calendar import PRAGUE
    from storage.states import AppointmentStatus
    from tests.helpers.flows import _book

    for user in ("u1", "u2", "u3"):
        await _book(app, lang="uk", user=user)
        await app.engine.collect("test", user)
    await add_account(app, "jana")
    year = datetime.now(PRAGUE).year + 1

    async def appointment(reference: str) -> tuple[str, datetime | None]:
        async with app.storage.begin() as unit:
            found = await unit.appointments.get(reference)
        assert found is not None
        return found.status, found.starts_at

    async with console_server(app) as server, browser(server) as b:
        await b.login("jana")
        _, page = await b.get("/desk/case/A-0001")
        assert 'type="datetime-local" name="at"' in page
        form = {"at": f"{year - 2}-01-15T09:30"}  # in the past: refused
        assert (await b.post("/desk/case/A-0001/confirm", form))[0] == 303
        assert await appointment("A-0001") == ("requested", None)
        assert await app.engine.collect("test", "u1") == []

        assert (await b.post("/desk/case/A-0001/confirm", {"at": f"{year}-01-15T09:30"}))[0] == 303
        assert await appointment("A-0001") == (
            "confirmed",
            datetime(year, 1, 15, 8, 30, tzinfo=UTC),  # CET
        )
        [told] = await app.engine.collect("test", "u1")
        assert told.key == "appointment-confirmed" and told.lang == "uk"
        assert "09:30" in told.text and "15" in told.text
        _, page = await b.get("/desk/case/A-0001")
        assert f"{year}-01-15 09:30" in page  # shown in Prague time

        assert (await b.post("/desk/case/A-0001/confirm", {"at": f"{year}-07-15T09:30"}))[0] == 303
        assert await appointment("A-0001") == (
            "confirmed",
            datetime(year, 7, 15, 7, 30, tzinfo=UTC),  # CEST
        )
        [moved] = await app.engine.collect("test", "u1")
        assert moved.key == "appointment-confirmed" and "09:30" in moved.text

        for reference in ("A-0002", "A-0003"):
            form = {"at": f"{year}-02-01T10:00"}
            assert (await b.post(f"/desk/case/{reference}/confirm", form))[0] == 303
        for user in ("u2", "u3"):
            await app.engine.collect("test", user)

        assert (await b.post("/desk/case/A-0001/settle", {"status": "done"}))[0] == 303
        assert (await b.post("/desk/case/A-0002/settle", {"status": "no-show"}))[0] == 303
        assert (await b.post("/desk/case/A-0003/settle", {"status": "cancel"}))[0] == 303
        assert (await b.post("/desk/case/A-0003/settle", {"status": "gone"}))[0] == 400
        assert (await appointment("A-0001"))[0] == AppointmentStatus.DONE
        assert (await appointment("A-0002"))[0] == AppointmentStatus.NO_SHOW
        assert (await appointment("A-0003"))[0] == AppointmentStatus.CANCELLED
        assert await app.engine.collect("test", "u1") == []
        assert await app.engine.collect("test", "u2") == []
        [cancelled] = await app.engine.collect("test", "u3")
        assert cancelled.key == "appointment-cancelled-by-staff" and cancelled.lang == "uk"
        _, page = await b.get("/desk/case/A-0001")
        assert 'id="confirm"' not in page  # a settled appointment has no actions left
    async with app.storage.begin() as unit:
        audit = await unit.audit.of("A-0001")
    assert [a.action for a in audit if a.action != "open"] == ["confirm", "confirm", "done"]


async def test_an_admin_changes_a_caseworkers_role_and_their_next_request_has_it(
    app: App,
) -> None:
    await add_account(app, "jana")
    await add_account(app, "admin", role="admin")
    async with console_server(app) as server, browser(server) as jana, browser(server) as admin:
        await jana.login("jana")
        await admin.login("admin")
        assert (await jana.get("/desk/reports"))[0] == 403
        async with app.storage.begin() as unit:
            member = await unit.accounts.staff_by_login("jana")
        assert member is not None
        _, page = await admin.get("/desk/admin/staff")
        assert f'action="/desk/admin/staff/{member.id}"' in page
        path = f"/desk/admin/staff/{member.id}"
        assert (await admin.post(path, {"role": "coordinator"}))[0] == 303
        assert (await jana.get("/desk/reports"))[0] == 200  # same session, new role
        assert (await jana.get("/desk/admin/staff"))[0] == 403
        assert (await admin.post(path, {"role": "overlord"}))[0] == 303  # not a role: ignored
        assert (await jana.get("/desk/reports"))[0] == 200
        assert (await admin.post(path, {"role": "caseworker"}))[0] == 303
        assert (await jana.get("/desk/reports"))[0] == 403
        assert (await jana.get("/desk/queue"))[0] == 200  # still logged in
