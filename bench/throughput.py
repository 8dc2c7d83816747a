"""Engine throughput: simulated users through flows and storage, against bare insert+commits."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, event, insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.stats import percentile
from bench.synthetic import OFF_TOPIC, noisy
from flows import payloads as pl
from flows.events import Inbound
from flows.payloads import Action

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.app import App
    from faq.loader import Faq
    from flows.events import Reply

CHANNEL = "bench"
# Replies that mean the message was not handled.
FAILED = frozenset({"error-busy", "rate-limited"})
# Buttons a simulated user reacts with, most wanted first (prefixes of the payloads).
REACTIONS = (Action.HELPED + ":", Action.TOPIC + ":", Action.KEEP_LANGUAGE, Action.MENU)

_ROUNDTRIP = Table(
    "bench_roundtrip",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("body", Text, nullable=False),
)


@dataclass
class Throughput:
    messages: int
    seconds: float
    per_second: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    failed: int = 0
    # Engine runs only: SQL statements per message, and the share of the time in matching.
    statements_per_message: float | None = None
    matching_share: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def _payloads(replies: list[Reply]) -> list[str]:
    return [button.payload for reply in replies for row in reply.buttons for button in row]


def _pick(offered: list[str], rng: random.Random, prefix: str) -> str | None:
    matching = [p for p in offered if p.startswith(prefix)]
    return rng.choice(matching) if matching else None


def _react(offered: list[str], rng: random.Random) -> str:
    for prefix in REACTIONS:
        chosen = _pick(offered, rng, prefix)
        if chosen:
            return chosen
    return pl.make(Action.MENU)


def _question(faq: Faq, rng: random.Random, lang: str) -> str:
    if rng.random() < 0.1:
        return rng.choice(OFF_TOPIC)
    topic = faq.topics[rng.choice(sorted(faq.topics))]
    tr = topic.translations.get(lang) or next(iter(topic.translations.values()))
    return noisy(rng, rng.choice([tr.question, *tr.variants]), [])


async def _journey(
    app: App, user: str, rng: random.Random, latencies: list[float], failures: list[str]
) -> None:
    """One person: /start, a language, questions, reactions to answers, browsing the menu."""
    faq = app.knowledge.faq
    lang = rng.choice(faq.languages)

    async def send(event: Inbound) -> list[str]:
        start = time.perf_counter()
        replies = await app.engine.handle(event)
        latencies.append(time.perf_counter() - start)
        failures.extend(r.key for r in replies if r.key in FAILED)
        return _payloads(replies)

    def press(payload: str) -> Inbound:
        return Inbound.press(CHANNEL, user, payload)

    offered = await send(Inbound.message(CHANNEL, user, "/start"))
    offered = await send(press(pl.make(Action.LANG, lang)))
    offered = await send(Inbound.message(CHANNEL, user, _question(faq, rng, lang)))
    offered = await send(press(_react(offered, rng)))
    offered = await send(press(pl.make(Action.MENU)))
    offered = await send(press(_pick(offered, rng, Action.CATEGORY + ":") or pl.make(Action.MENU)))
    offered = await send(press(_pick(offered, rng, Action.TOPIC + ":") or pl.make(Action.MENU)))
    offered = await send(press(_pick(offered, rng, Action.HELPED + ":") or pl.make(Action.MENU)))
    for _ in range(2):
        offered = await send(Inbound.message(CHANNEL, user, _question(faq, rng, lang)))
        offered = await send(press(_react(offered, rng)))


MESSAGES_PER_USER = 12


class _Timed:
    """Wraps a callable and adds up the time spent in it."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


async def run_users(
    app: App, users: int, concurrency: int, seed: int, tag: str, budget_s: float
) -> Throughput:
    """Up to `users` simulated people, `concurrency` at a time, through `app.engine.handle`.

    No new person starts after `budget_s` seconds (the ones under way finish).
    """
    latencies: list[float] = []
    failures: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for number in range(users):
        queue.put_nowait(number)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    # Diagnostics only: count SQL statements, time the matcher (instance attributes, undone
    # below; the code under test is not changed).
    understanding = app.engine.understanding
    timers = [_Timed(understanding.read)]
    understanding.read = timers[0]  # type: ignore[method-assign]
    if understanding.urgent is not None:
        timers.append(_Timed(understanding.urgent.detect))
        understanding.urgent.detect = timers[1]  # type: ignore[method-assign]
    event.listen(app.db.sync_engine, "before_cursor_execute", count)
    start = time.perf_counter()

    async def worker() -> None:
        while not queue.empty() and time.perf_counter() - start < budget_s:
            number = queue.get_nowait()
            rng = random.Random(seed * 1_000_003 + number)
            await _journey(app, f"{tag}-{number}", rng, latencies, failures)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    finally:
        event.remove(app.db.sync_engine, "before_cursor_execute", count)
        del understanding.read
        if understanding.urgent is not None:
            del understanding.urgent.detect
    ms = sorted(s * 1000 for s in latencies)
    return Throughput(
        messages=len(latencies),
        seconds=seconds,
        per_second=len(latencies) / seconds,
        p50_ms=percentile(ms, 50),
        p99_ms=percentile(ms, 99),
        failed=len(failures),
        statements_per_message=statements / max(len(latencies), 1),
        matching_share=sum(t.seconds for t in timers) / max(sum(latencies), 1e-9),
    )


async def run_roundtrips(db: AsyncEngine, count: int, concurrency: int) -> Throughput:
    """The baseline: `count` bare insert+commit round trips, `concurrency` at a time."""
    async with db.begin() as conn:
        await conn.run_sync(_ROUNDTRIP.drop, checkfirst=True)
        await conn.run_sync(_ROUNDTRIP.create)
    latencies: list[float] = []
    remaining = iter(range(count))

    async def worker(number: int) -> None:
        for i in remaining:
            start = time.perf_counter()
            async with db.begin() as conn:
                await conn.execute(
                    insert(_ROUNDTRIP).values(user_id=f"w{number}", body=f"message {i}")
                )
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    seconds = time.perf_counter() - start
    async with db.begin() as conn:
        await conn.run_sync(_ROUNDTRIP.drop)
    ms = sorted(s * 1000 for s in latencies)
    return Throughput(
        messages=len(latencies),
        seconds=seconds,
        per_second=len(latencies) / seconds,
        p50_ms=percentile(ms, 50),
        p99_ms=percentile(ms, 99),
    )


async def fresh_postgres(admin_url: str, url: str, name: str) -> None:
    """Create database `name` if missing (connected through `admin_url`) and empty it at `url`.

    Only ever touches `name`: the tests' own database is left alone.
    """
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    db = create_async_engine(url)
    try:
        async with db.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await db.dispose()
