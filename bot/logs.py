"""Log set-up: plain text, or one JSON object per line for log collectors.

Records carry ids, reference codes and categories; names, phone numbers and message text are
never logged (the code never passes them to a logger).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Final

QUIET_LOGGERS: Final = ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "asyncpg")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def set_up_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Python warnings (aiogram's among them) go through the same handler and format, not
    # straight to stderr.
    logging.captureWarnings(True)
    # These libraries log SQL parameters (phone numbers, message text) at DEBUG level.
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
