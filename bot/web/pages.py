"""Login, the queue and a case: what caseworkers use every day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote, urlencode

import aiohttp_jinja2
from aiohttp import web

from bot.web import ROOT, STRINGS_KEY, auth, poradna
from bot.web.canned import pick as canned_reply
from bot.web.thread import thread_entries
from flows.calendar import PRAGUE
from flows.window import WINDOWED, window
from locales import LANGUAGES
from storage.models import utcnow
from storage.repositories.console import WEB_CHANNEL
from storage.states import AppointmentStatus, RequestStatus, StaffRole

if TYPE_CHECKING:
    from bot.app import App
    from bot.web.strings import ConsoleStrings
    from flows.desk import DeskOutcome
    from storage.dto import CallbackDto, CannedDto, QueueRowDto, SessionDto, ThreadEntryDto

STATIC_DIR: Final = Path(__file__).parent / "static"
FINISHED: Final = frozenset(
    {
        RequestStatus.CLOSED,
        AppointmentStatus.DONE,
        AppointmentStatus.CANCELLED,
        AppointmentStatus.NO_SHOW,
    }
)
SETTLE: Final = {
    "done": AppointmentStatus.DONE,
    "no-show": AppointmentStatus.NO_SHOW,
    "cancel": AppointmentStatus.CANCELLED,
}
MAX_TEXT: Final = 3500


def add_routes(console: web.Application) -> None:
    r = console.router
    r.add_get("/login", login_page)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/", home)
    r.add_get("/queue", queue_page)
    r.add_get("/queue/rows", queue_rows)
    r.add_get("/case/{reference}", case_page)
    r.add_post("/case/{reference}/claim", claim)
    r.add_post("/case/{reference}/reply", reply)
    r.add_post("/case/{reference}/close", close)
    r.add_post("/case/{reference}/note", note)
    r.add_post("/case/{reference}/confirm", confirm)
    r.add_post("/case/{reference}/settle", settle)


def context(request: web.Request) -> dict[str, Any]:
    """What every template gets: the session (if any), the flash message, Prague time."""
    session = request.get(auth.SESSION_KEY)
    flash = request.cookies.get(auth.FLASH_COOKIE)
    return {
        "session": session,
        "flash": unquote(flash)[:500] if flash else None,
        "is_coordinator": session is not None and auth.has_role(session, StaffRole.COORDINATOR),
        "is_admin": session is not None and auth.has_role(session, StaffRole.ADMIN),
        "prague": lambda moment: (
            moment.astimezone(PRAGUE).strftime("%Y-%m-%d %H:%M") if moment else "-"
        ),
    }


def strings(request: web.Request) -> ConsoleStrings:
    return request.config_dict[STRINGS_KEY]


def render(request: web.Request, template: str, data: dict[str, Any]) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, {**context(request), **data})
    if request.cookies.get(auth.FLASH_COOKIE):
        response.del_cookie(auth.FLASH_COOKIE, path="/")
    return response


def redirect(request: web.Request, location: str, flash: str | None = None) -> web.Response:
    response = see_other(location)
    if flash:
        auth.set_cookie(response, request, auth.FLASH_COOKIE, quote(flash[:500]), max_age=60)
    return response


def see_other(location: str) -> web.Response:
    """A 303 to `location`, returned (with cookies) rather than raised."""
    return web.Response(status=303, headers={"Location": location})


# ------------------------------------------------------------------------------- login


async def login_page(request: web.Request) -> web.Response:
    token = auth.new_token()
    response = render(request, "login.html", {"login_csrf": token, "error": None})
    auth.set_cookie(response, request, auth.LOGIN_COOKIE, token, max_age=3600)
    return response


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    t = strings(request)
    if not auth.same_token(str(form.get("_csrf", "")), request.cookies.get(auth.LOGIN_COOKIE, "")):
        raise web.HTTPForbidden(text=t("error-csrf"))
    name, password = str(form.get("login", "")).strip(), str(form.get("password", ""))
    app = poradna(request)
    address = request.remote or "?"
    if await auth.throttled(app.storage, name, address):
        return _login_failed(request, t("login-throttled"), 429)
    async with app.storage.begin() as unit:
        found = await unit.accounts.credentials(name)
    if not auth.verify_password(found[1] if found else None, password) or found is None:
        return _login_failed(request, t("login-failed"), 401)
    staff, password_hash = found
    token, csrf = auth.new_token(), auth.new_token()
    async with app.storage.begin() as unit:
        if auth.needs_rehash(password_hash) and staff.login:
            await unit.accounts.set_password(staff.login, auth.hash_password(password))
        await unit.accounts.open_session(staff.id, auth.token_hash(token), csrf)
    response = see_other(f"{ROOT}/queue")
    auth.set_cookie(response, request, auth.SESSION_COOKIE, token)
    response.del_cookie(auth.LOGIN_COOKIE, path="/")
    return response


def _login_failed(request: web.Request, error: str, status: int) -> web.Response:
    token = auth.new_token()
    response = render(request, "login.html", {"login_csrf": token, "error": error})
    response.set_status(status)
    auth.set_cookie(response, request, auth.LOGIN_COOKIE, token, max_age=3600)
    return response


async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(auth.SESSION_COOKIE, "")
    async with poradna(request).storage.begin() as unit:
        await unit.accounts.end_session(auth.token_hash(token))
    response = see_other(f"{ROOT}/login")
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    return response


async def home(_request: web.Request) -> web.Response:
    raise web.HTTPSeeOther(f"{ROOT}/queue")


# ------------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class Filters:
    status: str = ""  # "": everything not finished; "all"; or one status
    lang: str = ""
    kind: str = ""
    channel: str = ""
    urgent: bool = False
    age: int = 0  # minutes: only requests older than this

    @classmethod
    def of(cls, request: web.Request) -> Filters:
        q = request.query
        try:
            age = max(0, int(q.get("age") or 0))
        except ValueError:
            age = 0
        return cls(
            status=q.get("status", ""),
            lang=q.get("lang", ""),
            kind=q.get("kind", ""),
            channel=q.get("channel", ""),
            urgent=q.get("urgent") == "1",
            age=age,
        )

    def keeps(self, row: QueueRowDto) -> bool:
        if self.status == "" and row.status in FINISHED:
            return False
        if self.status not in ("", "all") and row.status != self.status:
            return False
        checks = (
            (self.lang, row.lang),
            (self.kind, row.kind),
            (self.channel, row.channel or ""),
        )
        if any(wanted and wanted != value for wanted, value in checks):
            return False
        if self.urgent and not row.urgent:
            return False
        return not (self.age and row.created_at > utcnow() - timedelta(minutes=self.age))

    def query(self) -> str:
        values = {
            "status": self.status,
            "lang": self.lang,
            "kind": self.kind,
            "channel": self.channel,
            "urgent": "1" if self.urgent else "",
            "age": str(self.age or ""),
        }
        return urlencode({k: v for k, v in values.items() if v})


async def _queue_data(request: web.Request) -> dict[str, Any]:
    filters = Filters.of(request)
    async with poradna(request).storage.begin() as unit:
        rows = await unit.queue.rows()
    return {
        "rows": [r for r in rows if filters.keeps(r)],
        "filters": filters,
        "channels": sorted({r.channel for r in rows if r.channel}),
        "languages": LANGUAGES,
        "statuses": [*RequestStatus, *AppointmentStatus],
    }


async def queue_page(request: web.Request) -> web.Response:
    return render(request, "queue.html", await _queue_data(request))


async def queue_rows(request: web.Request) -> web.Response:
    """The rows alone, polled by htmx: new requests appear without a reload."""
    return render(request, "_queue_rows.html", await _queue_data(request))


# ------------------------------------------------------------------------------- a case


async def case_page(request: web.Request) -> web.Response:
    reference = request.match_info["reference"]
    app = poradna(request)
    session = auth.session_of(request)
    async with app.storage.begin() as unit:
        callback = await unit.requests.get(reference)
        appointment = None if callback else await unit.appointments.get(reference)
        if callback is None and appointment is None:
            raise web.HTTPNotFound(text=strings(request)("error-no-case", reference=reference))
        user_id = callback.user_id if callback else appointment.user_id if appointment else None
        person = await unit.queue.person_of(user_id)
        thread = await unit.threads.of(reference)
        await unit.audit.record(reference, session.staff.id, "open")
        notes = await unit.notes.of(reference)
        audit = await unit.audit.of(reference)
        canned = await unit.canned.all()
        holder = (
            await unit.staff.get(callback.claimed_by) if callback and callback.claimed_by else None
        )
        last_seen = (
            await unit.users.last_seen(person[0], person[1])
            if person and person[0] in WINDOWED
            else None
        )
    lang = (person[2] if person else None) or (callback or appointment).lang  # type: ignore[union-attr]
    data: dict[str, Any] = {
        "reference": reference,
        "callback": callback,
        "appointment": appointment,
        "channel": person[0] if person else None,
        "lang": lang,
        "lang_name": app.knowledge.locales.get(lang).name,
        "notes": notes,
        "audit": audit[-20:],
        "holder": holder,
        "canned_names": _canned_names(canned, strings(request).lang),
        "draft": _draft(app, canned, request.query.get("canned", ""), lang),
        "office": None,
        "window": None,  # where the channel's messaging window stands (Messenger)
    }
    if callback:
        data.update(_callback_details(app, callback, thread))
        if person and person[0] in WINDOWED:
            data["window"] = window(last_seen, utcnow(), app.settings.messenger_human_agent_days)
    else:
        assert appointment is not None
        data["office"] = app.desk.offices.get(appointment.office_id)
        data["staff_t"] = app.desk.t
    return render(request, "case.html", data)


def _canned_names(canned: list[CannedDto], staff_lang: str) -> list[tuple[str, str]]:
    """Each canned reply once, by its title in the console's language (else English, else any)."""
    titles: dict[str, dict[str, str]] = {}
    for c in canned:
        titles.setdefault(c.name, {})[c.lang] = c.title
    return [
        (name, by.get(staff_lang) or by.get("en") or next(iter(by.values())))
        for name, by in sorted(titles.items())
    ]


def _draft(app: App, canned: list[CannedDto], name: str, lang: str) -> dict[str, Any] | None:
    """The canned reply `name` in the person's language (else English, said so)."""
    chosen = canned_reply(canned, name, lang, app.desk.offices.values()) if name else None
    if chosen is None:
        return None
    return {"text": chosen.text, "lang": chosen.lang, "fallback": chosen.lang != lang}


def _callback_details(
    app: App,
    callback: CallbackDto,
    thread: list[ThreadEntryDto],
) -> dict[str, Any]:
    staff_t = app.desk.t
    entries = thread_entries(callback, thread)
    topic = callback.topic_id
    faq = app.knowledge.faq
    return {
        "thread": entries,
        "topic": faq.topics[topic].title(staff_t.lang) if topic in faq.topics else None,
        "preferred": staff_t(f"callback-time-{callback.preferred_time}")
        if f"callback-time-{callback.preferred_time}" in staff_t.strings
        else callback.preferred_time,
    }


def _who(session: SessionDto) -> tuple[str, str]:
    return session.staff.channel, session.staff.external_id


async def _act(request: web.Request, action: str, outcome: DeskOutcome) -> web.Response:
    reference = request.match_info["reference"]
    if outcome.ok:
        async with poradna(request).storage.begin() as unit:
            await unit.audit.record(reference, auth.session_of(request).staff.id, action)
    return _back(request, reference, outcome.text)


def _back(request: web.Request, reference: str, flash: str) -> web.Response:
    return redirect(request, f"{ROOT}/case/{quote(reference)}", flash)


async def claim(request: web.Request) -> web.Response:
    desk = poradna(request).desk
    outcome = await desk.claim(*_who(auth.session_of(request)), request.match_info["reference"])
    return await _act(request, "claim", outcome)


async def reply(request: web.Request) -> web.Response:
    reference = request.match_info["reference"]
    text = str((await request.post()).get("text", "")).strip()
    if not text:
        return redirect(
            request, f"{ROOT}/case/{quote(reference)}", strings(request)("error-empty")
        )
    desk = poradna(request).desk
    outcome = await desk.reply(
        *_who(auth.session_of(request)), reference, text[:MAX_TEXT], via=WEB_CHANNEL
    )
    return await _act(request, "reply", outcome)


async def close(request: web.Request) -> web.Response:
    desk = poradna(request).desk
    outcome = await desk.close(*_who(auth.session_of(request)), request.match_info["reference"])
    return await _act(request, "close", outcome)


async def note(request: web.Request) -> web.Response:
    reference = request.match_info["reference"]
    text = str((await request.post()).get("text", "")).strip()
    t = strings(request)
    if not text:
        return _back(request, reference, t("error-empty"))
    async with poradna(request).storage.begin() as unit:
        if (
            await unit.requests.get(reference) is None
            and await unit.appointments.get(reference) is None
        ):
            raise web.HTTPNotFound(text=t("error-no-case", reference=reference))
        await unit.notes.add(reference, auth.session_of(request).staff.id, text[:MAX_TEXT])
    return _back(request, reference, t("note-saved"))


async def confirm(request: web.Request) -> web.Response:
    """Confirm or move an appointment; the date picker gives `2026-12-24T09:30`, Prague time."""
    at = str((await request.post()).get("at", "")).replace("T", " ")
    desk = poradna(request).desk
    outcome = await desk.confirm(
        *_who(auth.session_of(request)), request.match_info["reference"], at
    )
    return await _act(request, "confirm", outcome)


async def settle(request: web.Request) -> web.Response:
    status = SETTLE.get(str((await request.post()).get("status", "")))
    if status is None:
        raise web.HTTPBadRequest(text=strings(request)("error-bad-form"))
    desk = poradna(request).desk
    outcome = await desk.settle(
        *_who(auth.session_of(request)), request.match_info["reference"], status
    )
    return await _act(request, status, outcome)
