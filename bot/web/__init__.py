"""The caseworkers' and coordinators' web console: `poradna web`, or `/desk` of `poradna run
--webhook`. Server-rendered pages (aiohttp-jinja2) with htmx served from the package; every
essential works without JavaScript. Pages: `pages.py` (login, queue, case), `office.py` (canned
replies, reports, FAQ status, accounts); security in `auth.py`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING, Final

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.web import auth
from bot.web.canned import seed_defaults
from bot.web.strings import load_console_strings

if TYPE_CHECKING:
    from bot.app import App
    from bot.web.strings import ConsoleStrings

logger = logging.getLogger(__name__)

ROOT: Final = "/desk"
APP_KEY: Final[web.AppKey[App]] = web.AppKey("poradna_app")
STRINGS_KEY: Final[web.AppKey[ConsoleStrings]] = web.AppKey("console_strings")
SWEEP_EVERY_S: Final = 3600
PUBLIC: Final = (f"{ROOT}/login", f"{ROOT}/static/")
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def poradna(request: web.Request) -> App:
    return request.config_dict[APP_KEY]


@web.middleware
async def security(request: web.Request, handler: auth.Handler) -> web.StreamResponse:
    """Same origin for every change; a live session for every page but the login page and
    the static files; its CSRF token on every change."""
    t = request.config_dict[STRINGS_KEY]
    changes = request.method not in auth.SAFE_METHODS
    if changes and not auth.same_origin(request):
        raise web.HTTPForbidden(text=t("error-origin"))
    if request.path.startswith(PUBLIC):
        return await handler(request)
    session = await auth.find_session(
        poradna(request).storage, request.cookies.get(auth.SESSION_COOKIE)
    )
    if session is None:
        if not changes and "HX-Request" not in request.headers:
            raise web.HTTPSeeOther(f"{ROOT}/login")
        raise web.HTTPUnauthorized(
            text=t("error-no-session"), headers={"HX-Redirect": f"{ROOT}/login"}
        )
    if changes:
        form = await request.post()
        given = request.headers.get("X-CSRF-Token") or form.get("_csrf")
        if not auth.same_token(str(given) if given else None, session.csrf):
            raise web.HTTPForbidden(text=t("error-csrf"))
    request[auth.SESSION_KEY] = session
    return await handler(request)


async def _headers(_request: web.Request, response: web.StreamResponse) -> None:
    """Nothing of the console is cached (its pages show phone numbers), nor framed."""
    response.headers.update(SECURITY_HEADERS)
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"


def console_application(app: App) -> web.Application:
    """The console as an aiohttp application, to mount at `ROOT`."""
    from bot.web import office, pages

    console = web.Application(middlewares=[security])
    console[APP_KEY] = app
    strings = load_console_strings(app.settings.staff_language)
    console[STRINGS_KEY] = strings
    env = aiohttp_jinja2.setup(
        console,
        loader=jinja2.PackageLoader("bot.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    env.globals["t"] = strings
    env.globals["root"] = ROOT
    console.router.add_static("/static/", pages.STATIC_DIR, name="static")
    pages.add_routes(console)
    office.add_routes(console)
    console.on_response_prepare.append(_headers)

    async def seed(_console: web.Application) -> None:
        await seed_defaults(app.storage)

    console.on_startup.append(seed)
    return console


def mount(outer: web.Application, app: App) -> None:
    """Serve the console at `ROOT` of `outer` (and `/` leads there)."""
    outer.add_subapp(ROOT, console_application(app))

    async def home(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther(f"{ROOT}/")

    outer.router.add_get("/", home)


async def serve(app: App, host: str, port: int) -> web.AppRunner:
    outer = web.Application()
    mount(outer, app)
    runner = web.AppRunner(outer)
    await runner.setup()
    await web.TCPSite(runner, host=host, port=port).start()
    return runner


async def sweep_sessions(app: App) -> None:
    """Delete expired sessions now and every `SWEEP_EVERY_S` (`poradna web` runs no
    maintenance loop of its own; `poradna run` does the same in its loop)."""
    while True:
        try:
            ended = await auth.end_stale_sessions(app.storage)
            logger.info("web console: %d expired sessions deleted", ended)
        except Exception:
            logger.exception("deleting expired sessions failed; will try again")
        await asyncio.sleep(SWEEP_EVERY_S)


async def run_web(app: App, host: str, port: int) -> None:
    """`poradna web`: serve until SIGTERM or SIGINT."""
    runner = await serve(app, host, port)
    sweeper = asyncio.create_task(sweep_sessions(app))
    print(f"Poradna console: http://{host}:{port}{ROOT}/", flush=True)  # noqa: T201
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await runner.cleanup()
