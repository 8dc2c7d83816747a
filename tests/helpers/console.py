"""The web console on 127.0.0.1 for tests: a real server on the test's app and database, and
a logged-in HTTP client (cookies, the CSRF token of the session)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.app import App
from bot.web import mount
from bot.web.auth import hash_password

PASSWORD = "correct horse battery"


async def add_account(
    app: App, login: str, role: str = "caseworker", name: str | None = None
) -> None:
    async with app.storage.begin() as unit:
        await unit.accounts.set_login(name or login.title(), login, role, ("ar", "en"))
        await unit.accounts.set_password(login, hash_password(PASSWORD))


@asynccontextmanager
async def console_server(app: App) -> AsyncIterator[TestServer]:
    outer = web.Application()
    mount(outer, app)
    server = TestServer(outer, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@dataclass
class Browser:
    """An HTTP client that behaves as a browser would: cookies, the Origin of the console."""

    server: TestServer
    http: aiohttp.ClientSession
    csrf: str = ""

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    @property
    def origin(self) -> str:
        return f"http://{self.server.host}:{self.server.port}"

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.url(path), allow_redirects=False) as response:
            return response.status, await response.text()

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, origin: str = ""
    ) -> tuple[int, str]:
        form = {**(data or {}), **({"_csrf": self.csrf} if csrf else {})}
        headers = {"Origin": origin or self.origin}
        async with self.http.post(
            self.url(path), data=form, headers=headers, allow_redirects=False
        ) as response:
            return response.status, await response.text()

    async def login(self, login: str, password: str = PASSWORD) -> int:
        _, page = await self.get("/desk/login")
        token = re.search(r'name="_csrf" value="([^"]+)"', page)
        assert token
        self.csrf = token.group(1)
        status, _ = await self.post(
            "/desk/login", {"login": login, "password": password}, csrf=True
        )
        if status == 303:
            _, queue = await self.get("/desk/queue")
            found = re.search(r'name="_csrf" value="([^"]+)"', queue)
            self.csrf = found.group(1) if found else ""
        return status


@asynccontextmanager
async def browser(server: TestServer) -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Browser(server, http)
