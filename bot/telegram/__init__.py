"""The Telegram channel on aiogram 3: a thin adapter between updates and the flows."""

from typing import Final

CHANNEL: Final = "telegram"
