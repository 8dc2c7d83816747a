"""What answering needs, without a database: the FAQ, its matcher and the UI strings.

Kept apart from `bot.app` so that commands that only match questions (`poradna ask`) start
without importing the conversation flows, storage and Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from faq.loader import Faq, load_faq
from faq.matcher import Matcher
from faq.urgent import UrgentDetector
from locales import Locales

if TYPE_CHECKING:
    from bot.config import Settings


@dataclass
class Knowledge:
    """What answering needs: the FAQ, its matcher and the UI strings (no database)."""

    faq: Faq
    matcher: Matcher
    locales: Locales


def build_knowledge(settings: Settings) -> Knowledge:
    faq = load_faq(settings.faq_dir)
    urgent = UrgentDetector.load(settings.urgent_file)
    return Knowledge(faq=faq, matcher=Matcher(faq, urgent=urgent), locales=Locales.load())
