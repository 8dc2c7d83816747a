"""Faults a production bot meets: a full disk under SQLite, PostgreSQL gone for a while.

The bot must keep answering what needs no storage, tell the person what it cannot do now, and
lose nothing that was already confirmed to them. The disk is a real, tiny filesystem filled to
the last byte (SQLite then fails with "database or disk is full"); the database outage is a
real TCP relay to the local PostgreSQL that is cut and restored.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.app import App, build_app
from bot.telegram.factory import create_bot, create_dispatcher, webhook_application
from bot.telegram.outbox import OutboxSender
from bot.upkeep import HEALTH_TIMEOUT_S
from flows import payloads as pl
from flows.payloads import Action, StaffAction
from tests.conftest import POSTGRES_URL, _fresh_postgres, make_settings
from tests.helpers.chat import Chat
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.telegram import (
    CASEWORKER,
    DESK,
    DESK_CHAT,
    MIGRANT,
    Harness,
    _request_callback,
    running_bot,
)

QUESTION = "what documents do I need to extend my residence permit"
URGENT = "my husband beats me and I am afraid to go home"


# ----------------------------------------------------------------- a small disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs mounted for this test (the machines here run tests as root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, database: Path) -> Path:
    """Fill the disk to the last byte; the next SQLite write fails with SQLITE_FULL.

    The write-ahead log is checkpointed and truncated first, so the next commit has to grow it.
    """
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1 << 8, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    with pytest.raises(OSError) as full:
        (disk / "probe").write_bytes(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC
    return filler


@pytest.fixture
async def app_on_small_disk(small_disk: Path) -> AsyncIterator[App]:
    url = f"sqlite+aiosqlite:///{small_disk / 'poradna.db'}"
    application = await build_app(make_settings(url), migrate=True)
    yield application
    await application.close()


async def stored_requests(app: App) -> list[tuple[str, str]]:
    async with app.storage.begin() as unit:
        return [(r.reference, r.phone) for r in await unit.requests.list_requests()]


async def test_full_disk_answers_what_it_can_and_loses_no_confirmed_request(
    app_on_small_disk: App, small_disk: Path
) -> None:
    app = app_on_small_disk
    confirmed = Chat(app.engine, user="confirmed", client_lang="en")
    done = await confirmed.request_callback(phone="777 111 222")
    assert "R-0001" in "\n".join(r.text for r in done)
    waiting = Chat(app.engine, user="waiting", client_lang="en")
    await waiting.send("/start")
    await waiting.press_payload(pl.make(Action.LANG, "en"))
    await waiting.press("Ask a person")  # now asked for a phone number

    filler = fill(small_disk, small_disk / "poradna.db")

    # A FAQ question is still answered, with a word on what cannot be done now.
    await waiting.send(QUESTION)
    assert "faq-answer" in waiting.keys and waiting.keys[-1] == "storage-down"
    assert "error-busy" not in waiting.keys
    # Browsing works from the buttons of that answer.
    await waiting.press("Menu")
    assert waiting.keys == ["menu-title", "storage-down"]
    # An urgent message still gets the emergency numbers at once.
    await confirmed.send(URGENT)
    assert confirmed.keys[0] == "urgent-help-now"
    assert "112" in confirmed.text and confirmed.keys[-1] == "storage-down-urgent"
    # A request cannot be taken: the person is told, not left waiting for a call.
    await waiting.send("777 333 444")
    assert waiting.keys == ["storage-down"]
    assert "cannot take a request" in waiting.text
    # A newcomer gets the menu, in their phone's language.
    newcomer = Chat(app.engine, user="new", client_lang="uk")
    await newcomer.send("/start")
    assert newcomer.keys == ["menu-title", "storage-down"]
    assert newcomer.replies[0].lang == "uk"
    # The console opened again: the menu to browse, not just the notice.
    reopened = Chat(app.engine, user="console", client_lang="cs")
    await reopened.open()
    assert reopened.keys == ["menu-title", "storage-down"]

    filler.unlink()  # space again

    assert await stored_requests(app) == [("R-0001", "+420777111222")]
    # The waiting person's conversation was kept where it was: at the phone number.
    await waiting.send("777 333 444")
    assert "callback-time" in waiting.keys
    await waiting.press_payload(pl.make(Action.TIME, "evening"))
    await waiting.send("my letter")
    await waiting.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert "R-0002" in waiting.text
    assert await stored_requests(app) == [("R-0001", "+420777111222"), ("R-0002", "+420777333444")]


async def test_full_disk_on_telegram_still_replies(small_disk: Path) -> None:
    database = small_disk / "poradna.db"
    async with running_bot(f"sqlite+aiosqlite:///{database}") as h:
        h.fake.send(MIGRANT, "/start", lang="en")
        await h.wait_text(MIGRANT, "Poradna")
        filler = fill(small_disk, database)
        h.fake.send(MIGRANT, QUESTION, lang="en")
        await h.wait_text(MIGRANT, "ipc.gov.cz")  # the answer, sent without the outbox
        await h.wait_text(MIGRANT, "cannot take a request")
        filler.unlink()
        h.fake.send(MIGRANT, "/menu", lang="en")
        await h.fake.wait_for(lambda: len(h.fake.buttons(MIGRANT)) >= 6)  # the menu
        # Whatever was sent while the disk was full is not sent a second time.
        texts = h.texts(MIGRANT)
        assert len(texts) == len(set(texts)), texts


# ----------------------------------------------------------------- PostgreSQL gone for a while


class Relay:
    """A TCP relay on 127.0.0.1 to the local PostgreSQL that can be cut and restored."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    def stall(self) -> None:
        """A silent partition: connections stay open (new ones are accepted) but no byte
        passes either way until `resume`, like a network that drops packets without a reset."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and break the open ones, like a database that went away."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._flowing.wait()  # the connection is accepted, its handshake goes nowhere
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5432)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    await self._flowing.wait()
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()
            self._open.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def relayed_postgres() -> AsyncIterator[tuple[App, Relay]]:
    await _fresh_postgres()
    relay = Relay()
    await relay.start()
    url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    assert url != POSTGRES_URL
    application = await build_app(make_settings(url), migrate=True)
    yield application, relay
    with contextlib.suppress(Exception):
        await application.close()
    with contextlib.suppress(Exception):
        await relay.cut()


async def test_postgres_gone_for_a_while(relayed_postgres: tuple[App, Relay]) -> None:
    app, relay = relayed_postgres
    confirmed = Chat(app.engine, user="confirmed", client_lang="en")
    await confirmed.request_callback(phone="777 111 222")
    waiting = Chat(app.engine, user="waiting", client_lang="vi")
    await waiting.send("/start")
    await waiting.press_payload(pl.make(Action.LANG, "vi"))
    await waiting.press_payload(pl.make(Action.PERSON))

    await relay.cut()
    await confirmed.send(QUESTION)
    assert "faq-answer" in confirmed.keys and confirmed.keys[-1] == "storage-down"
    await waiting.send("777 333 444")
    assert waiting.keys == ["storage-down"]

    await relay.start()  # back, on the same port
    await waiting.send("777 333 444")
    assert "callback-time" in waiting.keys and waiting.replies[0].lang == "vi"
    await waiting.press_payload(pl.make(Action.TIME, "morning"))
    await waiting.send("thư của bộ nội vụ")
    await waiting.press_payload(pl.yes_no(Action.CONSENT, yes=True))
    assert "R-0002" in waiting.text
    assert await stored_requests(app) == [("R-0001", "+420777111222"), ("R-0002", "+420777333444")]


@contextlib.asynccontextmanager
async def relayed_bot() -> AsyncIterator[tuple[Harness, Relay]]:
    """The Telegram bot polling the fake Bot API, its PostgreSQL behind a relay."""
    await _fresh_postgres()
    relay = Relay()
    await relay.start()
    url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    try:
        async with running_bot(url) as harness:
            yield harness, relay
    finally:
        with contextlib.suppress(Exception):
            await relay.cut()


async def test_postgres_cut_on_telegram_text_and_urgent_get_the_storage_down_reply() -> None:
    async with relayed_bot() as (h, relay):
        h.fake.send(MIGRANT, "/start", lang="en")
        await h.wait_text(MIGRANT, "Poradna")
        await relay.cut()
        # The staff check in front of the migrant's router cannot ask the database either: the
        # text still reaches the path that answers without storage, urgent first.
        h.fake.send(MIGRANT, URGENT, lang="en")
        await h.wait_text(MIGRANT, "112")
        await h.wait_text(MIGRANT, "no caseworker knows about it yet")
        h.fake.send(MIGRANT, QUESTION, lang="en")
        await h.wait_text(MIGRANT, "ipc.gov.cz")
        await h.wait_text(MIGRANT, "cannot take a request")
        await relay.start()
        h.fake.send(MIGRANT, "/menu", lang="en")
        await h.fake.wait_for(lambda: len(h.fake.buttons(MIGRANT)) >= 6, seconds=30)


# Every database call gives up after this long in these tests (DATABASE_TIMEOUT).
TIMEOUT = 1.0


@pytest.fixture
async def stalled_postgres() -> AsyncIterator[tuple[App, Relay]]:
    await _fresh_postgres()
    relay = Relay()
    await relay.start()
    url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    application = await build_app(make_settings(url, database_timeout=TIMEOUT), migrate=True)
    yield application, relay
    relay.resume()
    with contextlib.suppress(Exception):
        await application.close()
    with contextlib.suppress(Exception):
        await relay.cut()


async def test_postgres_silently_stalled_gets_the_storage_down_reply_in_time(
    stalled_postgres: tuple[App, Relay],
) -> None:
    app, relay = stalled_postgres
    waiting = Chat(app.engine, user="waiting", client_lang="en")
    await waiting.send("/start")
    await waiting.press_payload(pl.make(Action.LANG, "en"))
    await waiting.press_payload(pl.make(Action.PERSON))

    relay.stall()
    loop = asyncio.get_running_loop()
    for chat, text, last in (
        (Chat(app.engine, user="afraid", client_lang="en"), URGENT, "storage-down-urgent"),
        (waiting, "777 333 444", "storage-down"),
        (waiting, QUESTION, "storage-down"),
    ):
        started = loop.time()
        await asyncio.wait_for(chat.send(text), 10 * TIMEOUT)
        took = loop.time() - started
        assert chat.keys[-1] == last, chat.keys
        # A connection that stalls is given up after DATABASE_TIMEOUT; the turn's statement and
        # the rollback of its transaction each wait at most that long.
        assert took < 4 * TIMEOUT, took
    assert "112" in "\n".join(r.text for r in (await Chat(app.engine, "x", "en").send(URGENT)))

    relay.resume()
    await asyncio.sleep(TIMEOUT)
    await waiting.send("777 333 444")
    assert "callback-time" in waiting.keys


async def test_webhook_while_postgres_stalls_replies_in_time_and_healthz_says_503(
    stalled_postgres: tuple[App, Relay],
) -> None:
    app, relay = stalled_postgres
    fake = FakeTelegram()
    await fake.start()
    settings = app.settings.model_copy(
        update={"telegram_bot_token": SecretStr(fake.token), "telegram_api_base": fake.base}
    )
    bot = create_bot(settings)
    sender = OutboxSender(bot, app.storage, None)
    web_app = webhook_application(app, create_dispatcher(app, sender), bot, "s3cret")
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    update = {
        "update_id": 7,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": MIGRANT, "type": "private"},
            "from": fake.user(MIGRANT),
            "text": URGENT,
        },
    }
    loop = asyncio.get_running_loop()
    try:
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{url}/healthz") as response:
                assert response.status == 200
            relay.stall()
            started = loop.time()
            async with client.get(f"{url}/healthz") as response:
                assert response.status == 503
            assert loop.time() - started < HEALTH_TIMEOUT_S + 1
            # An urgent message during the partition: the emergency numbers at once, and
            # Telegram hears "200" long before its webhook would give up.
            started = loop.time()
            async with client.post(
                f"{url}/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"},
            ) as response:
                assert response.status == 200
            assert loop.time() - started < 8 * TIMEOUT
            assert any("112" in text for text in fake.texts(MIGRANT))
            assert any("no caseworker knows" in text for text in fake.texts(MIGRANT))
            relay.resume()
    finally:
        await runner.cleanup()
        await bot.session.close()
        await fake.stop()


async def test_postgres_cut_a_caseworker_is_told_that_nothing_was_done() -> None:
    async with relayed_bot() as (h, relay):
        await _request_callback(h)
        await h.wait_text(DESK, "R-0001")
        await relay.cut()
        h.fake.send(CASEWORKER, "/reply R-0001 I will call you at ten", chat=DESK_CHAT)
        await h.wait_text(DESK, "nothing was done")
        h.fake.click(CASEWORKER, pl.staff(StaffAction.CLAIM, "R-0001"), chat=DESK_CHAT)
        await h.fake.wait_for(
            lambda: any("nothing was done" in a.get("text", "") for a in h.answers())
        )
        await relay.start()
        h.fake.send(CASEWORKER, "/reply R-0001 I will call you at ten", chat=DESK_CHAT)
        await h.wait_text(MIGRANT, "I will call you at ten", count=1)
