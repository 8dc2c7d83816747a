"""The bot's Messenger webhook against the fake Graph API, and the people in its tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.app import App, build_app
from bot.meta.factory import Messenger as MessengerChannel
from bot.meta.factory import create_messenger, set_up_page
from tests.conftest import make_settings
from tests.helpers.fake_graph import VERSION, FakeGraph, Messenger

APP_SECRET = "app-secret-test"
VERIFY_TOKEN = "verify-token-test"
# Page-scoped ids are numbers of 16 digits or so.
VIETNAMESE = "7000000000000001"
ARABIC = "7000000000000002"
UKRAINIAN = "7000000000000003"
CASEWORKER = "501"


@dataclass
class Clock:
    """The time of the fake and of the bot's window reckoning, moved by the tests."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Instance:
    app: App
    channel: MessengerChannel
    url: str
    runner: web.AppRunner


@dataclass
class Harness:
    fake: FakeGraph
    people: Messenger
    instances: list[Instance]
    clock: Clock

    @property
    def app(self) -> App:
        return self.instances[0].app

    def texts(self, psid: str) -> list[str]:
        return self.fake.texts(psid)

    async def wait_text(self, psid: str, part: str, count: int = 1) -> str:
        def found() -> list[str]:
            return [t for t in self.texts(psid) if part in t]

        await self.fake.wait_for(lambda: len(found()) >= count)
        return found()[-1]

    def t(self, lang: str) -> Callable[..., str]:
        return self.app.knowledge.locales.get(lang)


def messenger_settings(database_url: str, fake: FakeGraph, **overrides: object) -> object:
    return make_settings(
        database_url,
        messenger_page_token=fake.token,
        messenger_app_secret=APP_SECRET,
        messenger_verify_token=VERIFY_TOKEN,
        meta_graph_api_base=fake.base,
        meta_graph_api_version=VERSION,
        staff_language="en",
        **overrides,
    )


async def _instance(database_url: str, fake: FakeGraph, clock: Clock) -> Instance:
    settings = messenger_settings(database_url, fake)
    app = await build_app(settings, migrate=True)  # type: ignore[arg-type]
    channel = create_messenger(
        app,
        clock=clock,
        idle_seconds=0.1,
        throttle_seconds=0.3,
        backoff_base=0.1,
        graph_timeout=0.5,
    )
    web_app = web.Application()
    channel.webhook.mount(web_app)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await set_up_page(channel, app)
    return Instance(app, channel, f"http://127.0.0.1:{port}/messenger", runner)


@contextlib.asynccontextmanager
async def running_messenger(database_url: str, instances: int = 1) -> AsyncIterator[Harness]:
    """The bot's `/messenger` (one or more instances on one database), its Messenger outbox
    delivering to the fake Graph API, and a caseworker for the desk (`poradna queue`)."""
    clock = Clock()
    fake = FakeGraph(clock=clock)
    await fake.start()
    started: list[Instance] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        while len(started) < instances:
            started.append(await _instance(database_url, fake, clock))
        async with started[0].app.storage.begin() as unit:
            await unit.staff.add("telegram", CASEWORKER, "Petra", ("vi", "ar"))
        tasks.extend(asyncio.create_task(i.channel.sender.run()) for i in started)
        people = Messenger(started[0].url, APP_SECRET, fake)
        yield Harness(fake, people, started, clock)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for instance in started:
            await instance.runner.cleanup()
            await instance.channel.close()
            await instance.app.close()
        await fake.stop()
