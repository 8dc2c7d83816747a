"""The real path of both channels, end to end: webhook HTTP in → turn stored → reply received
by the fake API (tests/helpers: the fake Bot API and the fake Graph API, on 127.0.0.1), one
update at a time and 20 people at once, with p50/p99 latency and the process's RSS, beside the
engine alone on the same messages in the same run. SQLite in a temporary folder.

Each update's time is split in two: until the webhook answered (the turn stored) and from then
until the fake API received the reply (the outbox: wake, lease, send, mark sent).

Usage, from the project folder: ``python bench/channels.py [--json] [--count N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from bench.stats import percentile  # noqa: E402
from bot.app import App, build_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.meta.factory import create_messenger  # noqa: E402
from bot.meta.signature import HEADER, sign  # noqa: E402
from bot.telegram.factory import create_bot, create_dispatcher, webhook_application  # noqa: E402
from bot.telegram.outbox import OutboxSender  # noqa: E402
from flows.events import Inbound  # noqa: E402
from tests.helpers.fake_graph import VERSION, FakeGraph, Messenger  # noqa: E402
from tests.helpers.fake_telegram import FakeTelegram  # noqa: E402

QUESTION = "health insurance for foreigners"
SECRET = "bench-secret"


def rss_mb() -> float:
    """The process's resident memory now."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 1e6


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


def settings(workdir: Path, name: str, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{workdir / name}.db",
        rate_limit_per_minute=100_000,
        **extra,
    )


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
            await fake.wait_for(lambda u=user, b=before: received(u) > b)
            latencies.append(time.perf_counter() - began)

    start = time.perf_counter()
    await asyncio.gather(*(person(u) for u in users[:concurrency]))
    return summary(latencies, stored, time.perf_counter() - start)


async def bench_messenger(workdir: Path, count: int) -> dict[str, Any]:
    fake = FakeGraph()
    await fake.start()
    app = await build_app(
        settings(
            workdir,
            "messenger",
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
    people = Messenger(f"{base}/messenger", SECRET, fake)
    users = [f"72000000000000{n:02d}" for n in range(20)]
    async with aiohttp.ClientSession() as session:

        async def post(user: str, _n: int, text: str = QUESTION) -> None:
            body = people.body([people.text(user, text)])
            raw = json.dumps(body, ensure_ascii=False).encode()
            fake.last_inbound[user] = fake.clock()
            headers = {HEADER: sign(raw, SECRET), "Content-Type": "application/json"}
            async with session.post(people.url, data=raw, headers=headers) as response:
                await response.read()

        def received(user: str) -> int:
            return len(fake.to(user))

        for user in users:
            await post(user, 0, "/start en")
        await asyncio.sleep(0.5)
        result = {
            "idle_rss_mb": round(rss_mb(), 1),
            "one_at_a_time": await _measure(post, received, fake, users, count, 1),
            "concurrent_20": await _measure(post, received, fake, users, count, 20),
            "engine_alone": await engine_alone(app, count, "bench-m"),
        }
    delivery.cancel()
    await runner.cleanup()
    await channel.close()
    await app.close()
    await fake.stop()
    return result


async def bench_telegram(workdir: Path, count: int) -> dict[str, Any]:
    fake = FakeTelegram()
    await fake.start()
    app = await build_app(
        settings(
            workdir,
            "telegram",
            telegram_bot_token=fake.token,
            telegram_api_base=fake.base,
        ),
        migrate=True,
    )
    bot = create_bot(app.settings)
    sender = OutboxSender(bot, app.storage, None, staff_t=app.engine.staff_t)
    dispatcher = create_dispatcher(app, sender)
    runner, base = await _serve(webhook_application(app, dispatcher, bot, SECRET))
    delivery = asyncio.create_task(sender.run())
    users = [str(3000 + n) for n in range(20)]
    ids = iter(range(1, 10**9))
    async with aiohttp.ClientSession() as session:

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
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with session.post(f"{base}/telegram", json=update, headers=headers) as r:
                await r.read()

        def received(user: str) -> int:
            return len(fake.sent(int(user)))

        for user in users:
            await post(user, 0, "/start en")
        await asyncio.sleep(0.5)
        result = {
            "idle_rss_mb": round(rss_mb(), 1),
            "one_at_a_time": await _measure(post, received, fake, users, count, 1),
            "concurrent_20": await _measure(post, received, fake, users, count, 20),
            "engine_alone": await engine_alone(app, count, "bench-t"),
        }
    delivery.cancel()
    await runner.cleanup()
    await bot.session.close()
    await app.close()
    await fake.stop()
    return result


async def main_async(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        telegram = await bench_telegram(Path(workdir), count)
        messenger = await bench_messenger(Path(workdir), count)
    return {"telegram": telegram, "messenger": messenger, "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--count", type=int, default=300, help="updates per measurement")
    args = parser.parse_args(argv)
    results = asyncio.run(main_async(args.count))
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        return 0
    lines = [
        "| channel | path | updates/s | p50 ms | p99 ms | turn stored p50 | delivery p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("telegram", "messenger"):
        for path in ("one_at_a_time", "concurrent_20", "engine_alone"):
            r = results[name][path]
            lines.append(
                f"| {name} | {path.replace('_', ' ')} | {r['updates_per_s']} | {r['p50_ms']} | "
                f"{r['p99_ms']} | {r['stored_p50_ms']} | {r['delivery_p50_ms']} |"
            )
        lines.append(f"| {name} | idle RSS | {results[name]['idle_rss_mb']} MB | | | | |")
    lines.append(f"peak RSS of the whole run: {results['peak_rss_mb']} MB")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
