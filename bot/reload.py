"""Hot reload of the FAQ content: edited files are picked up without a restart.

Content that fails validation is not loaded: the bot keeps serving the last good version and
the coordinators are told, in the staff chat, what is wrong (`file:line: message`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from bot.knowledge import Knowledge, build_understanding, learn
from faq.examples import example_files
from faq.loader import FaqError
from faq.quality import outdated
from flows.events import Reply
from flows.staff import STAFF_CHANNEL, STAFF_RECIPIENT
from storage.aio import uncancelled
from storage.models import utcnow

if TYPE_CHECKING:
    from pathlib import Path

    from bot.app import App

logger = logging.getLogger(__name__)

MAX_PROBLEM_LINES: Final = 15


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    text: str


class ContentWatcher:
    """Watches the content files; reloads on change or on request."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._seen = self._snapshot()
        self._lock = asyncio.Lock()

    def _files(self) -> list[Path]:
        settings = self._app.settings
        return [
            *sorted(settings.faq_dir.glob("*.y*ml")),
            settings.urgent_file,
            *example_files(settings.examples_dir),
        ]

    def _snapshot(self) -> dict[str, int]:
        snapshot = {}
        for path in self._files():
            try:
                snapshot[str(path)] = path.stat().st_mtime_ns
            except OSError:
                snapshot[str(path)] = -1
        return snapshot

    def changed(self) -> bool:
        return self._snapshot() != self._seen

    async def reload(self) -> ReloadResult:
        """Load the content again; swap it in only if all of it is valid."""
        from faq.loader import load_faq

        async with self._lock:
            self._seen = self._snapshot()
            settings, t = self._app.settings, self._app.engine.staff_t
            try:
                faq = await asyncio.to_thread(load_faq, settings.faq_dir)
                understanding = await asyncio.to_thread(build_understanding, settings, faq)
                if not Knowledge(faq, understanding, self._app.knowledge.locales).calibrated:
                    # Learned before the swap: until then the old content answers.
                    learned = await asyncio.to_thread(learn, faq, understanding.matcher)
                    understanding.recalibrate(learned)
            except FaqError as exc:
                lines = [str(p) for p in exc.problems][:MAX_PROBLEM_LINES]
                self._app.knowledge.refused_at = utcnow()
                self._app.knowledge.refused = tuple(lines)
                text = t("staff-faq-reload-failed", problems="\n".join(lines))
                logger.warning("FAQ reload refused: %d problem(s)", len(exc.problems))
                await self._tell(text, "staff-faq-reload-failed")
                return ReloadResult(False, text)
            self._app.engine.use(faq, understanding)
            self._app.knowledge.faq, self._app.knowledge.understanding = faq, understanding
            self._app.knowledge.loaded_at, self._app.knowledge.refused = utcnow(), ()
            text = t("staff-faq-reloaded", topics=len(faq.topics))
            stale = outdated(faq)
            if stale:
                listed = ", ".join(
                    f"{topic} ({', '.join(langs)})" for topic, langs in stale.items()
                )
                text = f"{text}\n{t('staff-faq-outdated', list=listed)}"
            logger.info("FAQ reloaded: %d topics", len(faq.topics))
            await self._tell(text, "staff-faq-reloaded")
            return ReloadResult(True, text)

    async def calibrate(self) -> bool:
        """Learn the decision of the content being served if the last calibration was learned
        from other content (a coordinator edited it since): in a thread, the bot answering
        with the older calibration meanwhile. True when it learned."""
        knowledge = self._app.knowledge
        if knowledge.calibrated:
            return False
        async with self._lock:
            calibration = await asyncio.to_thread(learn, knowledge.faq, knowledge.matcher)
            knowledge.understanding.recalibrate(calibration)
        logger.info("decision calibrated on the current content (%d samples)", calibration.samples)
        return True

    async def run(self, interval: float = 5.0) -> None:
        """Calibrate if needed, then poll the files until cancelled."""
        await self.calibrate()  # no database work: a stop may cancel it
        while True:
            await asyncio.sleep(interval)
            if self.changed():
                await uncancelled(self.reload())

    async def _tell(self, text: str, key: str) -> None:
        t = self._app.engine.staff_t
        reply = Reply(key=key, text=text, lang=t.lang, rtl=t.rtl)
        async with self._app.storage.begin() as unit:
            await unit.outbox.add(STAFF_CHANNEL, STAFF_RECIPIENT, reply.to_body())
