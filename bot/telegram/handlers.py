"""Telegram handlers: translate an update, call the flows, wake the outbox. Nothing else."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import CallbackQuery, Message
from sqlalchemy.exc import SQLAlchemyError

from bot.telegram.mappers import CHANNEL, callback_to_event, message_to_event
from flows import payloads as pl
from storage import states

if TYPE_CHECKING:
    from bot.reload import ContentWatcher
    from bot.telegram.outbox import OutboxSender
    from flows.desk import Desk
    from flows.engine import Engine

logger = logging.getLogger(__name__)

_REFERENCE = re.compile(r"^R-\d{4,}$")
_DESK_BUTTON = r"^(claim|close):"

# Which request a replied-to message is about: (desk, message) -> reference or None.
Lookup = Callable[["Desk", Message], Awaitable[str | None]]


class IsStaff(Filter):
    """The sender is a caseworker. Fails safe: when storage cannot tell, the sender is treated
    as a migrant, so their message reaches the engine's storage-down path (emergency numbers for
    an urgent one) instead of failing the update."""

    async def __call__(self, event: Message | CallbackQuery, desk: Desk) -> bool:  # type: ignore[override]
        user = event.from_user
        if user is None:
            return False
        try:
            return await desk.is_staff(CHANNEL, str(user.id))
        except (SQLAlchemyError, OSError) as exc:
            logger.error("staff check failed, handled as a migrant: %s", type(exc).__name__)
            return False


def migrant_router() -> Router:
    """Private chats with migrants: everything goes to the engine, replies to the outbox."""
    router = Router(name="migrant")
    router.message.filter(F.chat.type == "private")
    router.callback_query.filter(F.message.chat.type == "private")

    @router.message()
    async def on_message(
        message: Message, engine: Engine, sender: OutboxSender, update_id: int
    ) -> None:
        event = message_to_event(message, update_id)
        unstored = await engine.handle(event, via_outbox=True)
        await sender.send_now(message.chat.id, unstored)
        sender.wake()

    @router.callback_query()
    async def on_button(
        query: CallbackQuery, engine: Engine, sender: OutboxSender, update_id: int
    ) -> None:
        with contextlib.suppress(TelegramAPIError):  # only stops the spinner; a redelivered
            await query.answer()  # press may be too old to answer, its turn still counts
        unstored = await engine.handle(callback_to_event(query, update_id), via_outbox=True)
        await sender.send_now(query.from_user.id, unstored)
        sender.wake()

    return router


def staff_router(staff_chat_id: int) -> Router:
    """The caseworkers' group: Claim / Close buttons, replies and commands go to the desk."""
    router = Router(name="staff")
    router.message.filter(F.chat.id == staff_chat_id)
    router.callback_query.filter(F.message.chat.id == staff_chat_id)

    async def lookup(desk: Desk, message: Message) -> str | None:
        assert message.reply_to_message is not None
        return await desk.reference_of_post(str(message.reply_to_message.message_id))

    @router.message(Command("reload"))
    async def on_reload(
        message: Message, desk: Desk, watcher: ContentWatcher, sender: OutboxSender
    ) -> None:
        assert message.from_user is not None
        if not await desk.is_staff(CHANNEL, str(message.from_user.id)):
            await message.reply(desk.t("staff-not-staff"))
            return
        await watcher.reload()
        sender.wake()

    _desk_handlers(router, lookup, refuse_other_buttons=True)
    return router


def staff_private_router() -> Router:
    """A caseworker's own chat with the bot: requests routed to them personally."""
    router = Router(name="staff-private")
    router.message.filter(F.chat.type == "private", IsStaff())
    router.callback_query.filter(F.message.chat.type == "private", F.data.regexp(_DESK_BUTTON))

    async def lookup(desk: Desk, message: Message) -> str | None:
        assert message.reply_to_message is not None
        return await desk.reference_in_chat(
            CHANNEL, str(message.chat.id), str(message.reply_to_message.message_id)
        )

    _desk_handlers(router, lookup, refuse_other_buttons=False)
    return router


def _desk_handlers(router: Router, lookup: Lookup, *, refuse_other_buttons: bool) -> None:
    @router.callback_query()
    async def on_desk_button(query: CallbackQuery, desk: Desk, sender: OutboxSender) -> None:
        try:
            payload = pl.parse_staff(query.data)
        except pl.ForgedPayloadError:
            if not refuse_other_buttons:
                raise SkipHandler from None
            await query.answer(desk.t("button-invalid"), show_alert=True)
            return
        act = desk.claim if payload.action == pl.CLAIM else desk.close
        outcome = await act(CHANNEL, str(query.from_user.id), payload.value or "")
        await query.answer(outcome.text, show_alert=not outcome.ok)
        sender.wake()

    @router.message(Command("reply"))
    async def on_reply_command(
        message: Message, command: CommandObject, desk: Desk, sender: OutboxSender
    ) -> None:
        reference, _, text = (command.args or "").strip().partition(" ")
        if not _REFERENCE.match(reference) or not text.strip():
            await message.reply(desk.t("staff-reply-usage"))
            return
        await _reply(message, desk, sender, reference, text.strip())

    @router.message(Command("confirm"))
    async def on_confirm(
        message: Message, command: CommandObject, desk: Desk, sender: OutboxSender
    ) -> None:
        assert message.from_user is not None
        reference, _, when = (command.args or "").strip().partition(" ")
        outcome = await desk.confirm(CHANNEL, str(message.from_user.id), reference, when)
        await message.reply(outcome.text)
        sender.wake()

    @router.message(Command("done", "noshow", "cancelappt"))
    async def on_settle(
        message: Message, command: CommandObject, desk: Desk, sender: OutboxSender
    ) -> None:
        assert message.from_user is not None
        status = {"done": states.DONE, "noshow": states.NO_SHOW, "cancelappt": states.CANCELLED}[
            command.command
        ]
        reference = (command.args or "").strip()
        outcome = await desk.settle(CHANNEL, str(message.from_user.id), reference, status)
        await message.reply(outcome.text)
        sender.wake()

    @router.message(F.reply_to_message, F.text)
    async def on_reply(message: Message, desk: Desk, sender: OutboxSender, **_: Any) -> None:
        assert message.text is not None
        reference = await lookup(desk, message)
        if reference is None:
            raise SkipHandler  # not about a request: a colleague's chat, or a migrant's message
        await _reply(message, desk, sender, reference, message.text)


async def _reply(
    message: Message, desk: Desk, sender: OutboxSender, reference: str, text: str
) -> None:
    assert message.from_user is not None
    outcome = await desk.reply(CHANNEL, str(message.from_user.id), reference, text)
    if not outcome.ok:
        await message.reply(outcome.text)
    sender.wake()
