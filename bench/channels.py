"""The real path of both channels, end to end: webhook HTTP in → turn stored → reply received
by the fake API (tests/helpers: the fake Bot API and the fake Graph API, on 127.0.0.1), one
update at a time and 20 people at once, with p50/p99 latency, beside the engine alone on the
same messages in the same run: on SQLite in a temporary folder and, unless ``--no-postgres``,
on PostgreSQL (a database of its own, emptied first: ``--postgres-db``, default
``poradna_bench``).

Each update's time is split in two: until the webhook answered (the turn stored) and from then
until the fake API received the reply (the outbox: wake, lease, send, mark sent).

The bot's memory is measured on the bot alone: ``python -m bot run --webhook`` as a process of
its own (Telegram; then Messenger only), SQLite, its VmRSS idle after start-up and VmRSS and
VmHWM (the peak) after the same load, read from /proc/<pid>/status; its throughput is given too.

``--breakdown`` adds where a Telegram update's time goes, one at a time (the mean per update of
each part, timed around the functions named; the timing itself adds a few microseconds).

Usage, from the project folder:
``python bench/channels.py [--json] [--count N] [--no-postgres] [--breakdown]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bench.stats import percentile  # noqa: E402
from bench.throughput import fresh_postgres  # noqa: E402
from bot.app import App, build_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.meta.factory import create_messenger  # noqa: E402
from bot.meta.signature import HEADER, sign  # noqa: E402
from bot.telegram.factory import create_bot, create_dispatcher, webhook_application  # noqa: E402
from bot.telegram.outbox import OutboxSender  # noqa: E402
from flows.events import Inbound  # noqa: E402
from tests.helpers.fake_graph import VERSION, FakeGraph, Messenger  # noqa: E402
from tests.helpers.fake_telegram import FakeTelegram  # noqa: E402
from tests.helpers.processes import _env, free_port, webhook_up  # noqa: E402

QUESTION = "health insurance for foreigners"
SECRET = "bench-secret"
POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
POSTGRES_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"


def process_memory(pid: int) -> dict[str, float]:
    """A process's resident memory now (VmRSS) and its peak so far (VmHWM), in MB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = round(int(value.split()[0]) * 1024 / 1e6, 1)
    return fields


def summary(latencies: list[float], stored: list[float], elapsed: float) -> dict[str, Any]:
    ms = sorted(x * 1000 for x in latencies)
    st = sorted(x * 1000 for x in stored)
    return {
        "updates_per_s": round(len(ms) / elapsed, 1),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "stored_p50_ms": round(percentile(st, 50), 2),
        "delivery_p50_ms": round(percentile(ms, 50) - percentile(st, 50), 2),
    }


def settings(database_url: str, **extra: Any) -> Settings:
    return Settings(
        _env_file=None, database_url=database_url, rate_limit_per_minute=100_000, **extra
    )


class Replies:
    """How many replies the fake API has taken per person, counted as they come (reading the
    fake's whole record on every check would cost more than the bot's own work by the end)."""

    def __init__(self, calls: list[Any], whose: Callable[[Any], str | None]) -> None:
        self._calls = calls
        self._whose = whose
        self._seen = 0
        self._counts: dict[str, int] = defaultdict(int)

    def __call__(self, user: str) -> int:
        calls = self._calls
        while self._seen < len(calls):
            who = self._whose(calls[self._seen])
            if who is not None:
                self._counts[who] += 1
            self._seen += 1
        return self._counts[user]


def telegram_replies(fake: FakeTelegram) -> Replies:
    def whose(call: Any) -> str | None:
        ok = call.method == "sendMessage" and call.result is not None
        return str(call.params["chat_id"]) if ok else None

    return Replies(fake.calls, whose)


async def engine_alone(app: App, count: int, channel: str) -> dict[str, Any]:
    users = [f"e{n}" for n in range(20)]
    for user in users:
        await app.engine.handle(Inbound.message(channel, user, "/start en"), via_outbox=True)
    times = []
    start = time.perf_counter()
    for n in range(count):
        began = time.perf_counter()
        await app.engine.handle(Inbound.message(channel, users[n % 20], QUESTION), via_outbox=True)
        times.append(time.perf_counter() - began)
    return summary(times, times, time.perf_counter() - start)


async def _serve(web_app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def _measure(
    post: Any, received: Any, fake: Any, users: list[str], count: int, concurrency: int
) -> dict[str, Any]:
    """`post(user, n)` sends update n and returns when the webhook answered; `received(user)`
    counts the replies the fake API has for that user (`fake.wait_for` waits for a change)."""
    latencies: list[float] = []
    stored: list[float] = []
    queue = list(range(count))

    async def person(user: str) -> None:
        while queue:
            n = queue.pop()
            before = received(user)
            began = time.perf_counter()
            await post(user, n)
            stored.append(time.perf_counter() - began)
            await fake.wait_for(lambda u=user, b=before: received(u) > b, 60)
            latencies.append(time.perf_counter() - began)

    start = time.perf_counter()
    await asyncio.gather(*(person(u) for u in users[:concurrency]))
    return summary(latencies, stored, time.perf_counter() - start)


def messenger_poster(session: aiohttp.ClientSession, fake: FakeGraph, url: str) -> Any:
    people = Messenger(url, SECRET, fake)

    async def post(user: str, _n: int, text: str = QUESTION) -> None:
        body = people.body([people.text(user, text)])
        raw = json.dumps(body, ensure_ascii=False).encode()
        fake.last_inbound[user] = fake.clock()
        headers = {HEADER: sign(raw, SECRET), "Content-Type": "application/json"}
        async with session.post(people.url, data=raw, headers=headers) as response:
            await response.read()

    return post


def telegram_poster(session: aiohttp.ClientSession, url: str, secret: str) -> Any:
    ids = iter(range(1, 10**9))

    async def post(user: str, _n: int, text: str = QUESTION) -> None:
        update = {
            "update_id": next(ids),
            "message": {
                "message_id": next(ids),
                "date": int(time.time()),
                "chat": {"id": int(user), "type": "private"},
                "from": {"id": int(user), "is_bot": False, "first_name": "B"},
                "text": text,
            },
        }
        if text.startswith("/"):
            update["message"]["entities"] = [  # type: ignore[index]
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with session.post(url, json=update, headers=headers) as r:
            await r.read()

    return post


MESSENGER_USERS = [f"72000000000000{n:02d}" for n in range(20)]
TELEGRAM_USERS = [str(3000 + n) for n in range(20)]


async def _load(post: Any, received: Any, fake: Any, users: list[str], count: int) -> Any:
    """Every person starts (in English), then one update at a time and 20 at once."""
    for user in users:
        await post(user, 0, "/start en")
    await fake.wait_for(lambda: all(received(u) for u in users), 60)
    await asyncio.sleep(0.5)
    return {
        "one_at_a_time": await _measure(post, received, fake, users, count, 1),
        "concurrent_20": await _measure(post, received, fake, users, count, 20),
    }


async def bench_messenger(database_url: str, count: int) -> dict[str, Any]:
    fake = FakeGraph()
    await fake.start()
    app = await build_app(
        settings(
            database_url,
            messenger_page_token=fake.token,
            messenger_app_secret=SECRET,
            messenger_verify_token="v",
            meta_graph_api_base=fake.base,
            meta_graph_api_version=VERSION,
        ),
        migrate=True,
    )
    channel = create_messenger(app, idle_seconds=2.0)
    web_app = web.Application()
    channel.webhook.mount(web_app)
    runner, base = await _serve(web_app)
    delivery = asyncio.create_task(channel.sender.run())
    received = Replies(fake.sent, lambda s: s.recipient)
    async with aiohttp.ClientSession() as session:
        post = messenger_poster(session, fake, f"{base}/messenger")
        result = await _load(post, received, fake, MESSENGER_USERS, count)
        result["engine_alone"] = await engine_alone(app, count, "bench-m")
    delivery.cancel()
    await runner.cleanup()
    await channel.close()
    await app.close()
    await fake.stop()
    return result


async def bench_telegram(database_url: str, count: int, *, breakdown: bool = False) -> Any:
    totals: dict[str, float] = defaultdict(float)
    fake = FakeTelegram()
    if breakdown:  # before its routes take the method
        fake._handle = _timed_function(fake._handle, totals, "fake")  # type: ignore[method-assign]
    await fake.start()
    app = await build_app(
        settings(database_url, telegram_bot_token=fake.token, telegram_api_base=fake.base),
        migrate=True,
    )
    bot = create_bot(app.settings)
    sender = OutboxSender(bot, app.storage, None, staff_t=app.engine.staff_t)
    dispatcher = create_dispatcher(app, sender)
    runner, base = await _serve(webhook_application(app, dispatcher, bot, SECRET))
    delivery = asyncio.create_task(sender.run())
    received = telegram_replies(fake)
    async with aiohttp.ClientSession() as session:
        post = telegram_poster(session, f"{base}/telegram", SECRET)
        if breakdown:
            result = {"breakdown": await _breakdown(post, received, fake, count, totals)}
        else:
            result = await _load(post, received, fake, TELEGRAM_USERS, count)
            result["engine_alone"] = await engine_alone(app, count, "bench-t")
    delivery.cancel()
    await runner.cleanup()
    await bot.session.close()
    await app.close()
    await fake.stop()
    return result


# ------------------------------------------------------------------ where the time goes


def _timed_function(original: Any, totals: dict[str, float], key: str) -> Any:
    """`original` (a coroutine function), adding the time of every call to totals[key]."""

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - began

    return wrapper


def _timed(owner: Any, name: str, totals: dict[str, float], key: str) -> Callable[[], None]:
    """Time every call of `owner.name` in totals[key]; returns what puts the original back."""
    original = getattr(owner, name)
    setattr(owner, name, _timed_function(original, totals, key))
    return lambda: setattr(owner, name, original)


def _transactions(totals: dict[str, float]) -> Callable[[], None]:
    """Time every `Storage.begin()` block, from begin to commit, under the name of the function
    that opened it ("tx <name>"), and count them ("n <name>")."""
    from storage.unit import Storage

    original = Storage.begin

    @contextlib.asynccontextmanager
    async def begin(self: Storage) -> Any:
        caller = sys._getframe(2).f_code.co_name  # past the context manager's own frame
        began = time.perf_counter()
        try:
            async with original(self) as unit:
                yield unit
        finally:
            totals[f"tx {caller}"] += time.perf_counter() - began
            totals[f"n {caller}"] += 1

    Storage.begin = begin  # type: ignore[method-assign]
    return lambda: setattr(Storage, "begin", original)


PARTS = {
    "total": "webhook in -> reply received by the fake",
    "stored": "until the webhook answered (the client's round trip)",
    "handle_request": "  aiogram's webhook handler (the update parsed, then dispatched)",
    "feed": "    the dispatcher (middlewares, routers, filters, the handler)",
    "is_staff": "      the IsStaff filter (the sender a caseworker?)",
    "engine": "      the engine (Engine.handle: the turn and its transaction)",
    "deliver": "outbox rounds (DB lease, send, mark sent, and the empty round after)",
    "send": "  Bot.send_message (aiogram's client, HTTP to the fake and back)",
    "fake": "    the fake Bot API's handler (its HTML check and record)",
}


async def _breakdown(
    post: Any, received: Any, fake: FakeTelegram, count: int, totals: dict[str, float]
) -> dict[str, Any]:
    from aiogram import Bot, Dispatcher

    from bot.telegram.factory import CheckedRequestHandler
    from bot.telegram.handlers import IsStaff
    from flows.engine import Engine

    users = TELEGRAM_USERS
    for user in users:
        await post(user, 0, "/start en")
    await fake.wait_for(lambda: all(received(u) for u in users), 60)
    await _measure(post, received, fake, users, 50, 1)  # warm
    totals.clear()
    restore = [
        _timed(CheckedRequestHandler, "_handle_request", totals, "handle_request"),
        _timed(Dispatcher, "feed_webhook_update", totals, "feed"),
        _timed(IsStaff, "__call__", totals, "is_staff"),
        _timed(Engine, "handle", totals, "engine"),
        _timed(OutboxSender, "deliver_due", totals, "deliver"),
        _timed(Bot, "send_message", totals, "send"),
        _transactions(totals),
    ]
    try:
        latencies: list[float] = []
        stored: list[float] = []
        for n in range(count):
            user = users[n % len(users)]
            before = received(user)
            began = time.perf_counter()
            await post(user, n)
            stored.append(time.perf_counter() - began)
            await fake.wait_for(lambda u=user, b=before: received(u) > b, 60)
            latencies.append(time.perf_counter() - began)
            await asyncio.sleep(0.005)  # the outbox's empty round ends before the next update
    finally:
        for undo in restore:
            undo()
    totals["stored"] = sum(stored)
    totals["total"] = sum(latencies)
    return {
        key: round(value / count * (1 if key.startswith("n ") else 1000), 3)
        for key, value in sorted(totals.items())
    }


# ------------------------------------------------------------------ the bot as a process


def _bot_process(workdir: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    """`python -m bot run --webhook` on `port`, its database and log in `workdir`."""
    workdir.mkdir()
    with open(workdir / "bot.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--webhook"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=_env(workdir, PORT=str(port), RATE_LIMIT_PER_MINUTE="100000", **env),
            cwd=ROOT,
        )


async def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    for _ in range(300):
        if proc.poll() is not None:
            return
        await asyncio.sleep(0.1)
    proc.kill()


async def _process_load(
    proc: subprocess.Popen[bytes], base: str, load: Any, users: list[str], count: int
) -> dict[str, Any]:
    """`load` = (post, received, fake)."""
    async with aiohttp.ClientSession() as session:
        await webhook_up(session, base)
    await asyncio.sleep(1.0)
    idle = process_memory(proc.pid)
    result = await _load(*load, users, count)
    loaded = process_memory(proc.pid)
    return result | {
        "idle_rss_mb": idle["VmRSS"],
        "loaded_rss_mb": loaded["VmRSS"],
        "peak_rss_mb": loaded["VmHWM"],
    }


async def process_telegram(workdir: Path, count: int) -> dict[str, Any]:
    """`poradna run --webhook` with Telegram, alone in its process."""
    fake = FakeTelegram()
    await fake.start()
    port = free_port()
    secret = "s3cret"
    proc = _bot_process(
        workdir / "telegram",
        port,
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_BASE=fake.base,
        WEBHOOK_URL="https://bot.example.org/telegram",
        WEBHOOK_SECRET=secret,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            post = telegram_poster(session, f"{base}/telegram", secret)
            load = (post, telegram_replies(fake), fake)
            return await _process_load(proc, base, load, TELEGRAM_USERS, count)
    finally:
        await _stop_process(proc)
        await fake.stop()


async def process_messenger(workdir: Path, count: int) -> dict[str, Any]:
    """`poradna run --webhook` with Messenger only, alone in its process."""
    fake = FakeGraph()
    await fake.start()
    port = free_port()
    proc = _bot_process(
        workdir / "messenger",
        port,
        MESSENGER_PAGE_TOKEN=fake.token,
        MESSENGER_APP_SECRET=SECRET,
        MESSENGER_VERIFY_TOKEN="v",
        META_GRAPH_API_BASE=fake.base,
        META_GRAPH_API_VERSION=VERSION,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            post = messenger_poster(session, fake, f"{base}/messenger")
            load = (post, Replies(fake.sent, lambda s: s.recipient), fake)
            return await _process_load(proc, base, load, MESSENGER_USERS, count)
    finally:
        await _stop_process(proc)
        await fake.stop()


# ------------------------------------------------------------------ the run


async def in_process(database_url: str, count: int) -> dict[str, Any]:
    return {
        "telegram": await bench_telegram(database_url, count),
        "messenger": await bench_messenger(database_url, count),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.breakdown:
            url = f"sqlite+aiosqlite:///{workdir / 'breakdown.db'}"
            results["breakdown"] = (await bench_telegram(url, args.count, breakdown=True))[
                "breakdown"
            ]
            return results
        results["sqlite"] = await in_process(
            f"sqlite+aiosqlite:///{workdir / 'bench.db'}", args.count
        )
        if args.no_postgres:
            results["postgresql"] = {"skipped": "--no-postgres"}
        else:
            url = f"{POSTGRES_SERVER}/{args.postgres_db}"
            try:
                await fresh_postgres(POSTGRES_ADMIN_URL, url, args.postgres_db)
                results["postgresql"] = await in_process(url, args.count)
            except OSError as exc:  # no server
                results["postgresql"] = {"error": f"{type(exc).__name__}: {exc}"}
        results["process"] = {
            "telegram": await process_telegram(workdir, args.count),
            "messenger": await process_messenger(workdir, args.count),
        }
    return results


def _rows(results: dict[str, Any]) -> list[str]:
    lines = [
        "| backend | channel | path | updates/s | p50 ms | p99 ms | stored p50 | delivery p50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    sections = [
        ("sqlite", "SQLite"),
        ("postgresql", "PostgreSQL"),
        ("process", "SQLite, bot alone"),
    ]
    for key, label in sections:
        section = results[key]
        if "telegram" not in section:
            lines.append(f"| {label} | {next(iter(section.values()))} | | | | | | |")
            continue
        for name in ("telegram", "messenger"):
            for path in ("one_at_a_time", "concurrent_20", "engine_alone"):
                if path not in section[name]:
                    continue
                r = section[name][path]
                lines.append(
                    f"| {label} | {name} | {path.replace('_', ' ')} | {r['updates_per_s']} | "
                    f"{r['p50_ms']} | {r['p99_ms']} | {r['stored_p50_ms']} | "
                    f"{r['delivery_p50_ms']} |"
                )
    for name in ("telegram", "messenger"):
        p = results["process"][name]
        lines.append(
            f"bot alone ({name}): RSS idle {p['idle_rss_mb']} MB, after the load "
            f"{p['loaded_rss_mb']} MB, peak (VmHWM) {p['peak_rss_mb']} MB"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--count", type=int, default=300, help="updates per measurement")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--postgres-db", default="poradna_bench", help="emptied first")
    parser.add_argument("--breakdown", action="store_true", help="where Telegram's time goes")
    args = parser.parse_args(argv)
    results = asyncio.run(main_async(args))
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        return 0
    load = ", ".join(f"{x:.2f}" for x in results["load_average"])
    if args.breakdown:
        b = results["breakdown"]
        lines = ["| part, Telegram, one at a time | mean ms per update |", "|---|---|"]
        lines += [f"| {label} | {b.get(key, 0)} |" for key, label in PARTS.items()]
        lines += [
            f"| transaction opened by {key[3:]} (count per update {b['n ' + key[3:]]}) | {v} |"
            for key, v in b.items()
            if key.startswith("tx ")
        ]
    else:
        lines = _rows(results)
    lines.append(f"load average when started: {load}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
