"""Delivers the outbox to Messenger: in order per person, exactly once across instances (the
outbox leases each batch, with SKIP LOCKED on PostgreSQL), never dropped without a word.

Meta's answers branch here: a throughput limit (613 …) waits and sends again, a failure of Meta's
(5xx, a timeout) backs off, 551 (the person is not available) and 190 (an expired page token)
mark the message failed. Before sending, the person's messaging window decides how: a normal
message within 24 hours of their last message, the HUMAN_AGENT tag up to
MESSENGER_HUMAN_AGENT_DAYS, and past that nothing is sent: the desk is told that the person
cannot be reached on Messenger, with the callback phone of the request when it has one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from sqlalchemy.exc import SQLAlchemyError

from bot.meta import CHANNEL
from bot.meta.graph import (
    GraphOutsideWindow,
    GraphRefused,
    GraphThrottled,
    GraphUnavailable,
)
from bot.meta.render import render
from flows.calendar import when_label
from flows.events import Reply
from flows.staff import queue_for_staff
from flows.window import WindowState, window
from storage.aio import uncancelled
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.meta.graph import GraphClient
    from locales import Translator
    from storage.dto import OutboxDto
    from storage.unit import Storage, Unit

logger = logging.getLogger(__name__)

LEASE: Final = timedelta(seconds=60)
MAX_BACKOFF: Final = 300
HUMAN_AGENT: Final = "HUMAN_AGENT"


class MessengerSender:
    def __init__(
        self,
        graph: GraphClient,
        storage: Storage,
        *,
        staff_t: Translator,
        human_agent_days: int = 7,
        clock: Callable[[], datetime] = utcnow,
        idle_seconds: float = 2.0,
        throttle_seconds: float = 60.0,
        backoff_base: float = 2.0,
    ) -> None:
        """`clock` is the window's (the tests move it); `throttle_seconds`: how long to wait
        after a throughput limit (Meta gives no Retry-After for 613); `backoff_base`: the first
        wait after a failure of Meta's, doubled each attempt up to five minutes."""
        self._graph = graph
        self._storage = storage
        self._staff_t = staff_t
        self._tag_days = human_agent_days
        self._clock = clock
        self._idle = idle_seconds
        self._throttle = timedelta(seconds=throttle_seconds)
        self._backoff = backoff_base
        self._wake = asyncio.Event()
        # Messages Meta accepted whose "sent" mark could not be stored yet: id -> message id.
        self._unmarked: dict[int, str] = {}

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            try:
                handled = await uncancelled(self.deliver_due())
            except Exception:
                logger.exception("messenger outbox round failed; retrying")
                handled = 0
            if not handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle)
                self._wake.clear()
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError

    async def send_now(self, psid: str, replies: list[Reply]) -> None:
        """Replies that could not be stored (storage failing): once, at once, no retries."""
        for reply in replies:
            try:
                for message in render(reply):
                    await self._graph.send(psid, message)
            except (GraphThrottled, GraphUnavailable, GraphOutsideWindow, GraphRefused) as exc:
                logger.warning("direct reply not delivered: %s", type(exc).__name__)
                return

    async def deliver_due(self) -> int:
        """One round: lease what is due and try to send it. Returns how many were handled."""
        if self._unmarked:
            async with self._storage.begin() as unit:
                for message_id, external_id in self._unmarked.items():
                    await unit.outbox.mark_sent(message_id, external_id)
            self._unmarked.clear()
        async with self._storage.begin() as unit:
            batch = await unit.outbox.claim_due((CHANNEL,), LEASE)
        by_person: dict[str, list[OutboxDto]] = {}
        for message in batch:
            by_person.setdefault(message.recipient, []).append(message)
        # Each person's messages in order; different people at once (a round of 20 people's
        # replies one after another took 20 round trips to Meta).
        untried = [
            message_id
            for held in await asyncio.gather(*(self._person(m) for m in by_person.values()))
            for message_id in held
        ]
        if untried:
            async with self._storage.begin() as unit:
                await unit.outbox.release(untried)
        return len(batch)

    async def _person(self, messages: list[OutboxDto]) -> list[int]:
        """Deliver one person's messages in order; the ids not tried (an earlier one failed)."""
        for index, message in enumerate(messages):
            if not await self._deliver(message):
                return [m.id for m in messages[index + 1 :]]
        return []

    async def _deliver(self, message: OutboxDto) -> bool:
        """Send one message; False when it is to be tried again later (the person's next
        messages wait for it)."""
        async with self._storage.begin() as unit:
            last_seen = await unit.users.last_seen(CHANNEL, message.recipient)
        now = self._clock()
        open_ = window(last_seen, now, self._tag_days)
        if open_.state is WindowState.CLOSED:
            await self._unreachable(message, last_seen)
            return True
        tag = HUMAN_AGENT if open_.state is WindowState.HUMAN_AGENT else None
        first_id: str | None = None
        try:
            for part in render(Reply.from_body(message.body)):
                sent = await self._graph.send(message.recipient, part, tag=tag)
                first_id = first_id or sent
        except GraphThrottled:
            await self._later(message, self._throttle)
            return False
        except GraphUnavailable:
            delay = min(MAX_BACKOFF, self._backoff * 2 ** (message.attempts - 1))
            await self._later(message, timedelta(seconds=delay))
            return False
        except GraphOutsideWindow:
            await self._unreachable(message, last_seen)
            return True
        except GraphRefused as exc:
            logger.warning("outbox message %s refused by Meta: %s", message.id, exc)
            await self._failed(message, "staff-delivery-failed-messenger")
            return True
        await self._mark_sent(message, first_id or "")
        return True

    async def _mark_sent(self, message: OutboxDto, external_id: str) -> None:
        try:
            async with self._storage.begin() as unit:
                await unit.outbox.mark_sent(message.id, external_id)
        except (SQLAlchemyError, OSError) as exc:
            logger.error(
                "outbox message %s sent, not yet recorded: %s", message.id, type(exc).__name__
            )
            self._unmarked[message.id] = external_id

    async def _unreachable(self, message: OutboxDto, last_seen: datetime | None) -> None:
        logger.info("outbox message %s: the Messenger window has closed", message.id)
        await self._failed(message, "staff-messenger-unreachable", last_seen)

    async def _failed(
        self, message: OutboxDto, key: str, last_seen: datetime | None = None
    ) -> None:
        """Mark the message failed; when it was about a request, tell the desk (with the
        request's phone, so that a caseworker can call instead)."""
        async with self._storage.begin() as unit:
            await unit.outbox.mark_failed(message.id)
            if message.reference:
                phone = await _phone_of(unit, message.reference)
                await queue_for_staff(
                    unit,
                    self._staff_t,
                    key,
                    message.reference,
                    reply_to=True,
                    phone=phone or self._staff_t("staff-no-phone"),
                    last=when_label(last_seen, self._staff_t.lang) if last_seen else "-",
                )

    async def _later(self, message: OutboxDto, delay: timedelta) -> None:
        logger.info("outbox message %s: retry in %ss", message.id, delay.total_seconds())
        async with self._storage.begin() as unit:
            await unit.outbox.retry_later(message.id, delay)


async def _phone_of(unit: Unit, reference: str) -> str | None:
    request = await unit.requests.get(reference)
    if request is not None:
        return request.phone
    appointment = await unit.appointments.get(reference)
    return appointment.phone if appointment is not None else None
