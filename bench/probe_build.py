"""Run by bench/run.py in a fresh interpreter: how long importing and build_app take.

Prints one JSON object: {"import_s": ..., "build_app_s": ...}. DATABASE_URL comes from the
environment (the benchmark points it at a temporary SQLite file).
"""

from __future__ import annotations

import time

_start = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.config import Settings  # noqa: E402

_imported = time.perf_counter()


async def _build() -> float:
    start = time.perf_counter()
    app = await build_app(Settings(_env_file=None))
    seconds = time.perf_counter() - start
    await app.close()
    return seconds


def main() -> None:
    build_s = asyncio.run(_build())
    sys.stdout.write(json.dumps({"import_s": _imported - _start, "build_app_s": build_s}) + "\n")


if __name__ == "__main__":
    main()
