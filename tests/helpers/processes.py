"""Running Poradna as a person or a caseworker does: `poradna` commands and bot processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from tests.helpers.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]


def poradna(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    full_env.update(env or {})
    full_env.setdefault("LANG", "C.UTF-8")
    full_env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


WAIT = 60.0  # generous: a process start is 2-4 s on a busy machine; tests wait for output


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "STAFF_", "WEBHOOK_", "DATABASE_"))
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'poradna.db'}",
        LANG="C.UTF-8",
        PYTHONIOENCODING="utf-8",
    )
    env.pop("LC_ALL", None)
    env.pop("LC_MESSAGES", None)
    env.update(extra)
    return env


def _webhook_bot(
    fake: FakeTelegram, tmp_path: Path, port: int, log: IO[str], **env: str
) -> subprocess.Popen:
    """`python -m bot run --webhook` on `port`, against the fake Bot API."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--webhook"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env=_env(
            tmp_path,
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_API_BASE=fake.base,
            WEBHOOK_URL="https://bot.example.org/telegram",
            WEBHOOK_SECRET="s3cret",
            PORT=str(port),
            **env,
        ),
        cwd=tmp_path,
    )


def free_port() -> int:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def webhook_up(client: Any, url: str) -> None:
    """Wait until the webhook server at `url` answers /healthz."""
    import aiohttp

    deadline = time.monotonic() + WAIT
    while True:
        try:
            async with client.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        assert time.monotonic() < deadline, "the webhook server never came up"
        await asyncio.sleep(0.1)
