"""The web console inside `poradna run --webhook`: a real process serving Telegram's webhook
and, at /desk, the console, on the same database."""

from __future__ import annotations

import asyncio
import re
import signal
from typing import TYPE_CHECKING

from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.processes import WAIT, _env, _webhook_bot, free_port, poradna, webhook_up

if TYPE_CHECKING:
    from pathlib import Path

PASSWORD = "correct horse battery"


async def test_the_webhook_process_serves_the_console_at_desk(tmp_path: Path) -> None:
    import aiohttp

    env = _env(tmp_path, STAFF_LANGUAGE="en")
    booked = poradna(
        "run",
        stdin="English\n📅 Book an appointment\nLegal consultation\n1\n1\n1\n777123456\n1\n",
        env=env,
        cwd=tmp_path,
    )
    assert "A-0001" in booked.stdout, booked.stdout[-2000:]
    added = poradna(
        "staff", "add", "--name", "Jana", "--login", "jana", "--role", "coordinator", env=env
    )
    assert added.returncode == 0, added.stderr
    password = poradna("staff", "password", "jana", stdin=PASSWORD + "\n", env=env)
    assert password.returncode == 0, password.stderr

    fake = FakeTelegram()
    await fake.start()
    port = free_port()
    log = (tmp_path / "bot.log").open("a", encoding="utf-8")
    proc = _webhook_bot(fake, tmp_path, port, log, STAFF_LANGUAGE="en")
    url = f"http://127.0.0.1:{port}"
    origin = {"Origin": url}
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            await webhook_up(client, url)
            async with client.get(f"{url}/desk/queue", allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/desk/login"
            async with client.get(f"{url}/desk/login") as r:
                token = re.search(r'name="_csrf" value="([^"]+)"', await r.text())
            assert token
            form = {"login": "jana", "password": PASSWORD, "_csrf": token.group(1)}
            async with client.post(
                f"{url}/desk/login", data=form, headers=origin, allow_redirects=False
            ) as r:
                assert r.status == 303, await r.text()
            async with client.get(f"{url}/desk/queue") as r:
                assert r.status == 200
                queue = await r.text()
            assert "A-0001" in queue and "Jana" in queue
            async with client.get(f"{url}/desk/case/A-0001") as r:
                case = await r.text()
            assert "+420777123456" in case and r.headers["Cache-Control"] == "no-store"
            async with client.get(f"{url}/desk/canned") as r:
                assert "documents-checklist" in await r.text()  # the defaults, stored at start
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, WAIT) == 0, (tmp_path / "bot.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        await fake.stop()
    assert "777123456" not in (tmp_path / "bot.log").read_text()
