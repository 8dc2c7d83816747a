"""What answering needs, without a database: the FAQ, how messages are read and the UI strings.

Kept apart from `bot.app` so that commands that only match questions (`poradna ask`) start
without importing the conversation flows, storage and Telegram.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from faq.calibrate import content_hash, cross_validate
from faq.decide import Calibration
from faq.examples import load_examples_or_fail
from faq.loader import Faq, load_faq
from faq.matcher import Matcher
from faq.understanding import Understanding
from faq.urgent import UrgentDetector
from locales import Locales

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.config import Settings


@dataclass
class Knowledge:
    """What answering needs: the FAQ, how messages are read (`faq.understanding`, around
    the FAQ matcher) and the UI strings (no database)."""

    faq: Faq
    understanding: Understanding
    locales: Locales
    # When the content being served was loaded, and the problems (`file:line: message`) of
    # the last reload that was refused since (the web console shows both).
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    refused_at: datetime | None = None
    refused: tuple[str, ...] = ()

    @property
    def matcher(self) -> Matcher:
        """The FAQ matcher (its calibration, examples and explanations)."""
        return self.understanding.matcher

    @property
    def calibrated(self) -> bool:
        """Whether the matcher's decision was learned from this very content."""
        return self.matcher.calibration.content_hash == content_hash(
            self.faq, self.matcher.examples.negatives
        )


def build_understanding(settings: Settings, faq: Faq) -> Understanding:
    """The reading of messages with the matcher of `faq`, the urgent phrases, the examples and
    the last learned calibration (which may be of older content: see `learn`)."""
    urgent = UrgentDetector.load(settings.urgent_file)
    examples = load_examples_or_fail(settings.examples_dir)
    try:
        calibration = Calibration.load(settings.calibration_file)
    except (OSError, ValueError, TypeError):
        logger.warning("no usable calibration in %s: the shipped one is used", "CALIBRATION_FILE")
        calibration = Calibration.load()
    matcher = Matcher(
        faq, examples=examples, calibration=calibration, shared_words=urgent.vocabulary
    )
    return Understanding(matcher, urgent)


def learn(faq: Faq, matcher: Matcher) -> Calibration:
    """The calibration of this content, by cross-validation (seconds: run it off the event
    loop, the bot answering with the old calibration meanwhile)."""
    return cross_validate(faq, matcher.examples, matcher.stopwords).calibration


def build_knowledge(settings: Settings) -> Knowledge:
    faq = load_faq(settings.faq_dir)
    return Knowledge(
        faq=faq, understanding=build_understanding(settings, faq), locales=Locales.load()
    )
