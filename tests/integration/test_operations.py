"""Operations: flood limit, logs without personal data, health counts."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path

import pytest
from sqlalchemy.exc import SQLAlchemyError

from bot.app import App, build_app
from bot.logs import JsonFormatter
from flows.events import Inbound
from storage.models import utcnow
from tests.conftest import make_settings
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.processes import WAIT, _webhook_bot, free_port, poradna, webhook_up


async def test_a_flood_gets_one_polite_notice_not_a_thousand_replies(
    flow_database_url: str,
) -> None:
    app = await build_app(make_settings(flow_database_url, rate_limit_per_minute=5), migrate=True)
    try:
        replies = [
            await app.engine.handle(Inbound.message("test", "flooder", "spam", "cs"))
            for _ in range(50)
        ]
        keys = [r[0].key if r else None for r in replies]
        assert "error-busy" not in keys
        assert keys[5] == "rate-limited" and replies[5][0].lang == "cs"
        assert keys[6:] == [None] * 44  # silence until the minute has passed
        other = await app.engine.handle(Inbound.message("test", "someone-else", "/start"))
        assert other[0].key == "start-greeting"  # others are not affected
    finally:
        await app.close()


def test_logs_never_contain_phones_names_or_message_text(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
    }
    secret = "Moje sestra Olga Nováková potřebuje pomoc s dopisem"
    script = f"Čeština\n👤 Zeptat se člověka\n777 123 456\n1\n{secret}\n1\nmuž mě bije\n"
    result = poradna("run", stdin=script, env=env)
    assert result.returncode == 0
    assert "R-0001" in result.stdout
    logs = result.stderr
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any("R-0001" in line["message"] for line in lines)  # reference codes are logged
    for private in ("777123456", "777 123 456", "Olga", "Nováková", "sestra", "bije"):
        assert private not in logs


def test_json_log_lines() -> None:
    record = logging.LogRecord(
        "poradna", logging.WARNING, __file__, 1, "request %s", ("R-0042",), None
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "warning" and entry["message"] == "request R-0042"


async def test_database_unreachable_gets_a_polite_reply_not_a_crash() -> None:
    from bot.app import build_knowledge
    from flows.engine import Engine
    from storage.db import create_engine
    from storage.unit import Storage

    settings = make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    knowledge = build_knowledge(settings)
    db = create_engine(settings.database_url)
    engine = Engine(
        faq=knowledge.faq,
        understanding=knowledge.understanding,
        locales=knowledge.locales,
        storage=Storage(db),
        retention_days=90,
    )
    try:
        [reply] = await engine.handle(Inbound.message("test", "u", "???", client_lang="uk"))
        assert reply.key == "storage-down" and reply.lang == "uk"
        replies = await engine.handle(
            Inbound.message("test", "u", "медичне страхування для іноземців", client_lang="uk")
        )
        assert [r.key for r in replies][-2:] == ["faq-answer", "storage-down"]
        assert {r.lang for r in replies} == {"uk"}
        # Commands that need no storage still work, however they are typed.
        for command, first in (("/START", "menu-title"), ("/Menu@poradna_bot", "menu-title")):
            replies = await engine.handle(Inbound.message("test", "u", command, client_lang="uk"))
            assert [r.key for r in replies] == [first, "storage-down"], command
        replies = await engine.handle(Inbound.message("test", "u", "/help", client_lang="uk"))
        assert [r.key for r in replies] == ["help-text", "help-privacy", "storage-down"]
    finally:
        await db.dispose()


async def test_storage_errors_carry_no_personal_data(app: App) -> None:
    """Error messages end up in logs (aiogram logs a failed handler's exception text)."""
    with pytest.raises(SQLAlchemyError) as failed:
        async with app.storage.begin() as unit:
            await unit.requests.create(
                user_id=999_999,  # no such person: the database refuses the row
                lang="cs",
                topic_id=None,
                phone="+420777123456",
                preferred_time="morning",
                question="Olga Nováková potřebuje pomoc",
                consent_at=utcnow(),
            )
    assert "callback_requests" in str(failed.value)  # it still says what failed
    for private in ("777123456", "Olga", "Nováková"):
        assert private not in str(failed.value)


async def test_webhook_logs_hold_no_raw_update_even_when_malformed_or_unknown(
    tmp_path: Path,
) -> None:
    """A malformed update made aiohttp log a traceback with the raw body; an update of a type
    aiogram does not know made it print the update's JSON to stderr. Neither may show what a
    person wrote, and with LOG_FORMAT=json every line stays JSON."""
    import aiohttp

    fake = FakeTelegram()
    await fake.start()
    port = free_port()
    log = (tmp_path / "bot.log").open("a", encoding="utf-8")
    proc = _webhook_bot(fake, tmp_path, port, log, LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    url = f"http://127.0.0.1:{port}"
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
    private = "Olga Nováková +420777123456"
    malformed = {
        "update_id": 5,
        "message": {"message_id": "five", "date": 0, "chat": "none", "text": private},
    }
    unknown = {"update_id": 6, "some_future_update": {"id": 1, "text": private}}
    try:
        async with aiohttp.ClientSession() as client:
            await webhook_up(client, url)
            async with client.post(f"{url}/telegram", json=malformed, headers=headers) as r:
                assert r.status == 400
            async with client.post(f"{url}/telegram", json=unknown, headers=headers) as r:
                assert r.status == 200
            async with client.post(f"{url}/telegram", data=f"{{{private}", headers=headers) as r:
                assert r.status == 400
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        await fake.stop()
    logs = (tmp_path / "bot.log").read_text(encoding="utf-8")
    for secret in ("Olga", "Nov", "777123456"):
        assert secret not in logs, logs
    lines = [line for line in logs.splitlines() if line.strip()]
    assert lines
    for line in lines:
        json.loads(line)  # nothing printed around the JSON lines
