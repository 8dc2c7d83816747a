"""Telegram handlers: translate an update, call the flows, wake the outbox. Nothing else."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import CallbackQuery, Message
from sqlalchemy.exc import SQLAlchemyError

from bot.telegram.mappers import CHANNEL, callback_to_event, message_to_event
from bot.telegram.render import render
from flows import payloads as pl
from flows.desk import DeskOutcome
from flows.events import Reply
from flows.flood import FloodLimit, Verdict
from flows.payloads import StaffAction
from storage.states import AppointmentStatus

if TYPE_CHECKING:
    from bot.reload import ContentWatcher
    from bot.telegram.outbox import OutboxSender
    from flows.desk import Desk
    from flows.engine import Engine
    from storage.unit import Storage

logger = logging.getLogger(__name__)

_REFERENCE = re.compile(r"^R-\d{4,}$", re.IGNORECASE)
_DESK_BUTTON = r"^(claim|close):"

# Which request a replied-to message is about: (desk, message) -> reference or None.
Lookup = Callable[["Desk", Message], Awaitable[str | None]]


@dataclass
class Once:
    """What a handler says about its update (given to handlers as `once`): `recorded` when the
    update was recorded as processed in the handler's own transaction (the engine's turn), so
    `OnceMiddleware` need not record it after."""

    recorded: bool = False


class SeenBefore(BaseMiddleware):
    """A caseworker's update that was processed before is skipped before its handler runs
    (answers to caseworkers, /reload and refusals are not recorded with an action of their
    own). Storage failing: better a rare repeat than a caseworker left without any answer."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def __call__(
        self,
        handler: Callable[[Any, dict[str, Any]], Awaitable[Any]],
        event: Any,
        data: dict[str, Any],
    ) -> Any:
        update_id = data["update_id"]
        try:
            async with self._storage.begin() as unit:
                seen = await unit.updates.seen(CHANNEL, update_id)
        except (SQLAlchemyError, OSError) as exc:
            logger.error("update not checked for repeats: %s", type(exc).__name__)
            seen = False
        if seen:
            logger.info("update %s was already processed", update_id)
            return None
        return await handler(event, data)


class IsStaff(Filter):
    """The sender is a caseworker. Fails safe: when storage cannot tell, the sender is treated
    as a migrant, so their message reaches the engine's storage-down path (emergency numbers for
    an urgent one) instead of failing the update."""

    async def __call__(self, event: Message | CallbackQuery, desk: Desk) -> bool:
        user = event.from_user
        if user is None:
            return False
        try:
            return await desk.is_staff(CHANNEL, str(user.id))
        except (SQLAlchemyError, OSError) as exc:
            logger.error("staff check failed, handled as a migrant: %s", type(exc).__name__)
            return False


class StaffStorageDown(BaseMiddleware):
    """A caseworker's action when storage fails: they are told that nothing was done (in the
    staff language), instead of the update failing with no word, a reply lost unnoticed."""

    async def __call__(
        self,
        handler: Callable[[Any, dict[str, Any]], Awaitable[Any]],
        event: Any,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except (SQLAlchemyError, OSError) as exc:
            logger.error("desk action failed, storage down: %s", type(exc).__name__)
            desk: Desk = data["desk"]
            if isinstance(event, CallbackQuery):
                with contextlib.suppress(TelegramAPIError):
                    await event.answer(desk.t("staff-storage-down"), show_alert=True)
            else:
                await _tell(event, desk, None, desk.t("staff-storage-down"))
            return None


def migrant_router() -> Router:
    """Private chats with migrants: everything goes to the engine, replies to the outbox."""
    router = Router(name="migrant")
    router.message.filter(F.chat.type == "private")
    router.callback_query.filter(F.message.chat.type == "private")

    @router.message()
    async def on_message(
        message: Message, engine: Engine, sender: OutboxSender, update_id: int, once: Once
    ) -> None:
        event = message_to_event(message, update_id)
        unstored = await engine.handle(event, via_outbox=True)
        once.recorded = True  # by the turn, which skips a redelivered update
        await sender.send_now(message.chat.id, unstored)
        sender.wake()

    @router.callback_query()
    async def on_button(
        query: CallbackQuery, engine: Engine, sender: OutboxSender, update_id: int, once: Once
    ) -> None:
        with contextlib.suppress(TelegramAPIError):  # only stops the spinner; a redelivered
            await query.answer()  # press may be too old to answer, its turn still counts
        unstored = await engine.handle(callback_to_event(query, update_id), via_outbox=True)
        once.recorded = True
        await sender.send_now(query.from_user.id, unstored)
        sender.wake()

    return router


def staff_router(staff_chat_id: int, storage: Storage) -> Router:
    """The caseworkers' group: Claim / Close buttons, replies and commands go to the desk."""
    router = Router(name="staff")
    router.message.filter(F.chat.id == staff_chat_id)
    router.callback_query.filter(F.message.chat.id == staff_chat_id)

    async def lookup(desk: Desk, message: Message) -> str | None:
        assert message.reply_to_message is not None
        return await desk.reference_of_post(str(message.reply_to_message.message_id))

    @router.message(Command("reload"))
    async def on_reload(
        message: Message,
        desk: Desk,
        watcher: ContentWatcher,
        sender: OutboxSender,
        flood: FloodLimit,
    ) -> None:
        assert message.from_user is not None
        if not await desk.is_staff(CHANNEL, str(message.from_user.id)):
            await _tell(message, desk, flood, await desk.refuse())
            return
        await watcher.reload()
        sender.wake()

    _desk_handlers(router, lookup, storage, refuse_other_buttons=True)
    return router


def staff_private_router(storage: Storage) -> Router:
    """A caseworker's own chat with the bot: requests routed to them personally."""
    router = Router(name="staff-private")
    router.message.filter(F.chat.type == "private", IsStaff())
    router.callback_query.filter(F.message.chat.type == "private", F.data.regexp(_DESK_BUTTON))

    async def lookup(desk: Desk, message: Message) -> str | None:
        assert message.reply_to_message is not None
        return await desk.reference_in_chat(
            CHANNEL, str(message.chat.id), str(message.reply_to_message.message_id)
        )

    _desk_handlers(router, lookup, storage, refuse_other_buttons=False)
    return router


def _desk_handlers(
    router: Router, lookup: Lookup, storage: Storage, *, refuse_other_buttons: bool
) -> None:
    router.message.middleware(StaffStorageDown())
    router.callback_query.middleware(StaffStorageDown())
    router.message.middleware(SeenBefore(storage))
    router.callback_query.middleware(SeenBefore(storage))

    @router.callback_query()
    async def on_desk_button(
        query: CallbackQuery, desk: Desk, sender: OutboxSender, update_id: int
    ) -> None:
        try:
            payload = pl.parse_staff(query.data)
        except pl.ForgedPayloadError:
            if not refuse_other_buttons:
                raise SkipHandler from None
            await query.answer(desk.t("button-invalid"), show_alert=True)
            return
        act = desk.claim if payload.action == StaffAction.CLAIM else desk.close
        outcome = await act(
            CHANNEL, str(query.from_user.id), payload.reference, update_id=update_id
        )
        if not outcome.repeated:
            with contextlib.suppress(TelegramAPIError):  # plain text; the press may be old
                await query.answer(outcome.text, show_alert=not outcome.ok)
        sender.wake()

    @router.message(Command("reply"))
    async def on_reply_command(
        message: Message,
        command: CommandObject,
        desk: Desk,
        sender: OutboxSender,
        update_id: int,
        flood: FloodLimit,
    ) -> None:
        assert message.from_user is not None
        if not await desk.is_staff(CHANNEL, str(message.from_user.id)):
            await _tell(message, desk, flood, await desk.refuse())
            return
        reference, _, text = (command.args or "").strip().partition(" ")
        if not _REFERENCE.match(reference) or not text.strip():
            await _tell(message, desk, flood, desk.t("staff-reply-usage"))
            return
        await _reply(message, desk, sender, flood, reference, text.strip(), update_id)

    @router.message(Command("confirm"))
    async def on_confirm(
        message: Message,
        command: CommandObject,
        desk: Desk,
        sender: OutboxSender,
        update_id: int,
        flood: FloodLimit,
    ) -> None:
        assert message.from_user is not None
        reference, _, when = (command.args or "").strip().partition(" ")
        outcome = await desk.confirm(
            CHANNEL, str(message.from_user.id), reference, when, update_id=update_id
        )
        await _tell(message, desk, flood, outcome)
        sender.wake()

    @router.message(Command("done", "noshow", "cancelappt"))
    async def on_settle(
        message: Message,
        command: CommandObject,
        desk: Desk,
        sender: OutboxSender,
        update_id: int,
        flood: FloodLimit,
    ) -> None:
        assert message.from_user is not None
        status = {
            "done": AppointmentStatus.DONE,
            "noshow": AppointmentStatus.NO_SHOW,
            "cancelappt": AppointmentStatus.CANCELLED,
        }[command.command]
        reference = (command.args or "").strip()
        outcome = await desk.settle(
            CHANNEL, str(message.from_user.id), reference, status, update_id=update_id
        )
        await _tell(message, desk, flood, outcome)
        sender.wake()

    @router.message(F.reply_to_message, F.text)
    async def on_reply(
        message: Message,
        desk: Desk,
        sender: OutboxSender,
        update_id: int,
        flood: FloodLimit,
        **_: Any,
    ) -> None:
        assert message.text is not None
        reference = await lookup(desk, message)
        if reference is None:
            raise SkipHandler  # not about a request: a colleague's chat, or a migrant's message
        await _reply(message, desk, sender, flood, reference, message.text, update_id)


async def _reply(
    message: Message,
    desk: Desk,
    sender: OutboxSender,
    flood: FloodLimit,
    reference: str,
    text: str,
    update_id: int,
) -> None:
    assert message.from_user is not None
    outcome = await desk.reply(
        CHANNEL, str(message.from_user.id), reference, text, update_id=update_id
    )
    if not outcome.ok:
        await _tell(message, desk, flood, outcome)
    sender.wake()


async def _tell(
    message: Message, desk: Desk, flood: FloodLimit | None, said: DeskOutcome | str
) -> None:
    """Answer a caseworker in the chat they wrote in. The text goes through `render`, like
    every text the bot sends, so names and references they typed show as written (never as
    HTML). The action is stored already: a refused or lost answer is logged, not raised, so
    Telegram does not deliver the update again. Someone who is not a caseworker is told so
    once a minute at most (on every instance together), not once per command."""
    if isinstance(said, DeskOutcome):
        if said.repeated:
            return
        if said.key in ("staff-not-staff", "staff-none-yet") and flood is not None:
            assert message.from_user is not None
            key = f"desk-refusal:{message.from_user.id}"
            if await flood.check(key, limit=1) is not Verdict.OK:
                return
        said = said.text
    reply = Reply(key="desk", text=said, lang=desk.t.lang, rtl=desk.t.rtl)
    try:
        for part in render(reply):
            await message.reply(part.text, reply_markup=part.markup)
    except TelegramAPIError as exc:
        logger.warning("answer to a caseworker not delivered: %s", type(exc).__name__)
