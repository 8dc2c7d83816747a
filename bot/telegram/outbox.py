"""Delivers the outbox to Telegram: in order per chat, retried on 429 and 5xx, never dropped.

Each batch is leased in the database before sending, so two bot instances never send one message
twice; a message whose chat refuses it for good (the user blocked the bot) is marked failed, and
when it was about a request the desk is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import ReplyParameters
from sqlalchemy.exc import SQLAlchemyError

from bot.telegram.mappers import CHANNEL
from bot.telegram.render import caption_of, render
from flows.events import Reply
from flows.staff import STAFF_CHANNEL, queue_for_staff
from storage.aio import uncancelled

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiogram import Bot

    from locales import Translator
    from storage.dto import OutboxDto
    from storage.unit import Storage

logger = logging.getLogger(__name__)

LEASE: Final = timedelta(seconds=60)
MAX_BACKOFF: Final = 300


class OutboxSender:
    def __init__(
        self,
        bot: Bot,
        storage: Storage,
        staff_chat_id: int | None,
        *,
        staff_t: Translator | None = None,
        idle_seconds: float = 2.0,
    ) -> None:
        """`staff_t`: the desk's language, for telling it of a message about a request that
        Telegram refused for good (the desk must be set: `staff_chat_id`)."""
        self._bot = bot
        self._staff_t = staff_t if staff_chat_id else None
        self._storage = storage
        self._staff_chat_id = staff_chat_id
        self._idle = idle_seconds
        self._wake = asyncio.Event()
        # Messages Telegram accepted whose "sent" mark could not be stored yet: id -> message id.
        self._unmarked: dict[int, str] = {}
        self._channels = (CHANNEL, STAFF_CHANNEL) if staff_chat_id else (CHANNEL,)
        # Other channels' senders, woken with this one: a caseworker's answer on the Telegram
        # desk to a person on Messenger goes at once.
        self.wake_also: list[Callable[[], None]] = []

    def wake(self) -> None:
        self._wake.set()
        for wake in self.wake_also:
            wake()

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            try:
                sent = await uncancelled(self.deliver_due())
            except Exception:
                logger.exception("outbox delivery round failed; retrying")
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle)
                self._wake.clear()
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Stopping: Python 3.11's wait_for can swallow a cancel that meets its timeout.
                raise asyncio.CancelledError

    async def send_now(self, chat_id: int, replies: list[Reply]) -> None:
        """Send replies that could not be stored in the outbox (storage failing): once, at
        once, without retries, since there is nowhere to keep them."""
        for reply in replies:
            try:
                for part in render(reply):
                    await self._bot.send_message(
                        chat_id=chat_id, text=part.text, reply_markup=part.markup
                    )
            except TelegramAPIError as exc:  # refused, rate limited or unreachable
                logger.warning("direct reply not delivered: %s", type(exc).__name__)
                return

    async def deliver_due(self) -> int:
        """One round: lease what is due and try to send it. Returns how many were handled."""
        if self._unmarked:
            # Sent while storage was failing: record them now, instead of sending them again
            # when their lease runs out (and holding up the next messages to those chats).
            async with self._storage.begin() as unit:
                outbox = unit.outbox
                for message_id, external_id in self._unmarked.items():
                    await outbox.mark_sent(message_id, external_id)
            self._unmarked.clear()
        async with self._storage.begin() as unit:
            batch = await unit.outbox.claim_due(self._channels, LEASE)
        held: set[tuple[str, str]] = set()
        untried: list[int] = []
        for message in batch:
            key = (message.channel, message.recipient)
            if key in held:
                untried.append(message.id)  # an earlier message to this chat must go first
            elif not await self._deliver(message):
                held.add(key)
        if untried:
            async with self._storage.begin() as unit:
                await unit.outbox.release(untried)
        return len(batch)

    async def _deliver(self, message: OutboxDto) -> bool:
        reply = Reply.from_body(message.body)
        chat_id = (
            self._staff_chat_id if message.channel == STAFF_CHANNEL else int(message.recipient)
        )
        assert chat_id is not None  # the staff channel is delivered only with STAFF_CHAT_ID
        thread = None
        if reply.reply_to_reference:  # only then is storage asked (it may be failing)
            async with self._storage.begin() as unit:
                thread = await unit.outbox.external_id_of(STAFF_CHANNEL, reply.reply_to_reference)
        reply_parameters = (
            ReplyParameters(message_id=int(thread), allow_sending_without_reply=True)
            if thread
            else None
        )
        try:
            first_id = await self._send(chat_id, reply, reply_parameters)
        except TelegramRetryAfter as exc:
            await self._later(message, timedelta(seconds=exc.retry_after))
            return False
        except (TelegramServerError, TelegramNetworkError):
            await self._later(message, timedelta(seconds=min(MAX_BACKOFF, 2**message.attempts)))
            return False
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            logger.warning(
                "outbox message %s refused by Telegram: %s", message.id, type(exc).__name__
            )
            async with self._storage.begin() as unit:
                await unit.outbox.mark_failed(message.id)
                if self._staff_t and message.channel != STAFF_CHANNEL and message.reference:
                    # Nobody would know otherwise: a caseworker's answer the person never got.
                    await queue_for_staff(
                        unit,
                        self._staff_t,
                        "staff-delivery-failed",
                        message.reference,
                        reply_to=True,
                    )
            return True
        try:
            async with self._storage.begin() as unit:
                await unit.outbox.mark_sent(message.id, str(first_id))
        except (SQLAlchemyError, OSError) as exc:
            logger.error(
                "outbox message %s sent, not yet recorded: %s", message.id, type(exc).__name__
            )
            self._unmarked[message.id] = str(first_id)
        return True

    async def _send(
        self, chat_id: int, reply: Reply, reply_parameters: ReplyParameters | None
    ) -> int | None:
        """Send one reply (in parts when long); the id of its first message. A person's photo
        or document that came through Telegram goes with it, sent again by its file id
        (nothing of the file is kept but that id), with the text as its caption when it fits."""
        file_id = reply.media_ref if reply.media_channel == CHANNEL else None
        caption = caption_of(reply) if file_id else None
        first_id: int | None = None
        if caption is None:
            for part in render(reply):
                sent = await self._bot.send_message(
                    chat_id=chat_id,
                    text=part.text,
                    reply_markup=part.markup,
                    reply_parameters=reply_parameters if first_id is None else None,
                )
                first_id = first_id or sent.message_id
        if file_id:
            if reply.media_kind == "photo":
                sent = await self._bot.send_photo(
                    chat_id, file_id, caption=caption, reply_parameters=reply_parameters
                )
            else:
                sent = await self._bot.send_document(
                    chat_id, file_id, caption=caption, reply_parameters=reply_parameters
                )
            first_id = first_id or sent.message_id
        return first_id

    async def _later(self, message: OutboxDto, delay: timedelta) -> None:
        logger.info("outbox message %s: retry in %ss", message.id, delay.total_seconds())
        async with self._storage.begin() as unit:
            await unit.outbox.retry_later(message.id, delay)
