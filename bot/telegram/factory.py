"""Build the Telegram bot and dispatcher from settings; run by polling or webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING, Any, ClassVar

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.methods import Response, TelegramMethod
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, TelegramObject, Update
from aiogram.types.update import UpdateTypeLookupError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from sqlalchemy.exc import SQLAlchemyError

from bot.reload import ContentWatcher
from bot.telegram.handlers import Once, migrant_router, staff_private_router, staff_router
from bot.telegram.mappers import CHANNEL
from bot.telegram.outbox import OutboxSender
from bot.upkeep import health_handler, maintain
from storage.aio import uncancelled

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aiohttp import web

    from bot.app import App
    from bot.config import Settings
    from locales import Locales
    from storage.unit import Storage

logger = logging.getLogger(__name__)

COMMANDS = ("start", "menu", "language", "help", "cancel")
# SIGTERM in webhook mode: how long the updates being handled may take to finish.
SHUTDOWN_TIMEOUT_S = 30.0


class KeptTypesSession(AiohttpSession):
    """aiogram's session, except that the answer's model (`Response[Message]` for a
    sendMessage) is built once. aiogram asks pydantic for it on every call, and pydantic keeps
    parametrised models only weakly: the garbage collector takes it every few calls and pydantic
    builds it anew, 3-10 ms of schema work for one sent message (most of a reply's delivery,
    measured with bench/channels.py)."""

    _kept: ClassVar[dict[Any, type[Response[Any]]]] = {}

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        returning = method.__returning__
        if returning not in self._kept:
            self._kept[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)


def create_bot(settings: Settings) -> Bot:
    assert settings.telegram_bot_token is not None
    session = (
        KeptTypesSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
        if settings.telegram_api_base
        else KeptTypesSession()
    )
    return Bot(
        token=settings.telegram_bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


class OnceMiddleware(BaseMiddleware):
    """Each update is processed once, even when Telegram delivers it again, and none is lost.

    A migrant's update is recorded as processed by the engine, in the same transaction as the
    turn (handlers get `update_id` for that, and say so on `once`), and a redelivered one is
    skipped there, so it costs no transaction of its own; a caseworker's update is checked
    before its handler (`SeenBefore`) and recorded in the desk action's transaction or, for the
    rest, once its handler is done. Telegram itself hears that an update arrived only after it
    was processed (polling: the next getUpdates waits for it; webhook: the answer waits), so an
    update that was being processed when the process died is delivered again, not forgotten.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)  # an outer middleware of `dispatcher.update`
        try:
            event.event_type  # noqa: B018 (raises for a type this aiogram does not know)
        except UpdateTypeLookupError:
            # aiogram would print the whole update (what a person wrote) to stderr.
            logger.warning("update %s of an unknown type skipped", event.update_id)
            return None
        data["update_id"] = event.update_id
        data["once"] = once = Once()
        # Stopping the bot cancels the polling loop, which is waiting here: the update being
        # processed is finished first (a database call cut off in the middle can hang its
        # connection), then the stop goes on.
        return await uncancelled(self._process(handler, event, data, once))

    async def _process(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: Update,
        data: dict[str, Any],
        once: Once,
    ) -> Any:
        result = await handler(event, data)
        if once.recorded:
            return result
        try:
            async with self._storage.begin() as unit:
                await unit.updates.first_time(CHANNEL, event.update_id)
        except (SQLAlchemyError, OSError) as exc:
            logger.error("update not recorded as processed: %s", type(exc).__name__)
        return result


async def poll(dispatcher: Dispatcher, bot: Bot, **options: Any) -> None:
    """Long polling that confirms an update to Telegram (the next getUpdates) only after it was
    processed: one at a time, which a bot on one SQLite file does anyway. Scale is webhook mode
    on PostgreSQL."""
    await dispatcher.start_polling(bot, handle_as_tasks=False, **options)


def create_dispatcher(
    app: App, sender: OutboxSender, watcher: ContentWatcher | None = None
) -> Dispatcher:
    dispatcher = Dispatcher(
        engine=app.engine,
        desk=app.desk,
        sender=sender,
        watcher=watcher or ContentWatcher(app),
        flood=app.engine.flood,
    )
    dispatcher.update.outer_middleware(OnceMiddleware(app.storage))
    if app.settings.staff_chat_id is not None:
        dispatcher.include_router(staff_router(app.settings.staff_chat_id, app.storage))
    dispatcher.include_router(staff_private_router(app.storage))
    dispatcher.include_router(migrant_router())
    return dispatcher


async def set_up_bot(bot: Bot, locales: Locales, default_language: str) -> None:
    """Commands and the description in every supported language."""
    scope = BotCommandScopeAllPrivateChats()
    for lang in (None, *locales.languages):
        t = locales.get(lang or default_language)
        commands = [BotCommand(command=c, description=t(f"command-{c}")) for c in COMMANDS]
        await bot.set_my_commands(commands, scope=scope, language_code=lang)
        await bot.set_my_description(description=t("start-greeting")[:512], language_code=lang)


async def bootstrap_staff(app: App) -> None:
    """Make the accounts in ADMIN_TELEGRAM_IDS caseworkers (kept if they exist already)."""
    async with app.storage.begin() as unit:
        staff = unit.staff
        for telegram_id in app.settings.admin_ids:
            if await staff.find(CHANNEL, telegram_id) is None:
                await staff.add(CHANNEL, telegram_id, f"admin {telegram_id}")


async def run_polling(app: App) -> None:
    bot = create_bot(app.settings)
    sender = OutboxSender(bot, app.storage, app.settings.staff_chat_id, staff_t=app.engine.staff_t)
    watcher = ContentWatcher(app)
    dispatcher = create_dispatcher(app, sender, watcher)
    await bootstrap_staff(app)
    await set_up_bot(bot, app.knowledge.locales, app.settings.default_language)
    tasks = [
        asyncio.create_task(sender.run()),
        asyncio.create_task(maintain(app, sender)),
        asyncio.create_task(watcher.run()),
    ]
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        await poll(dispatcher, bot)
    finally:
        await _stop(tasks)
        await bot.session.close()


class CheckedRequestHandler(SimpleRequestHandler):
    """aiogram's webhook handler, except that a body that is not an update is refused with 400
    and logged by its kind only: aiohttp would log the traceback, with the raw body (what a
    person wrote) in pydantic's message."""

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        from aiohttp import web

        try:
            update = Update.model_validate(
                await request.json(loads=bot.session.json_loads), context={"bot": bot}
            )
        except ValueError as exc:  # bad JSON, or pydantic's ValidationError
            logger.warning("webhook request refused, not an update: %s", type(exc).__name__)
            return web.Response(status=400, text="Bad Request")
        result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(
            bot, update, **self.data
        )
        return web.Response(body=self._build_response_writer(bot=bot, result=result))


def webhook_application(
    app: App, dispatcher: Dispatcher, bot: Bot, secret: str
) -> web.Application:
    """`/telegram` (updates, checked against `secret`) and `/healthz`."""
    from aiogram.webhook.aiohttp_server import setup_application
    from aiohttp import web

    web_app = web.Application()
    healthz = health_handler(app)
    web_app.router.add_get("/healthz", healthz)
    # Answered only once processed: an update being handled when the process dies is sent again.
    CheckedRequestHandler(
        dispatcher, bot, secret_token=secret, handle_in_background=False
    ).register(web_app, path="/telegram")
    setup_application(web_app, dispatcher, bot=bot)
    return web_app


async def run_webhook(app: App) -> None:
    """Serve Telegram's webhook on PORT; every request must carry WEBHOOK_SECRET."""
    from aiohttp import web

    settings = app.settings
    if not settings.webhook_url or settings.webhook_secret is None:
        raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
    bot = create_bot(settings)
    sender = OutboxSender(bot, app.storage, settings.staff_chat_id, staff_t=app.engine.staff_t)
    watcher = ContentWatcher(app)
    dispatcher = create_dispatcher(app, sender, watcher)
    await bootstrap_staff(app)
    await set_up_bot(bot, app.knowledge.locales, settings.default_language)
    secret = settings.webhook_secret.get_secret_value()
    await bot.set_webhook(settings.webhook_url, secret_token=secret)
    web_app = webhook_application(app, dispatcher, bot, secret)
    from bot.web import mount

    mount(web_app, app)  # the web console at /desk
    tasks = [
        asyncio.create_task(sender.run()),
        asyncio.create_task(maintain(app, sender)),
        asyncio.create_task(watcher.run()),
    ]
    messenger = None
    if settings.messenger_enabled:  # /messenger next to /telegram, on the same desk
        from bot.meta.factory import start_messenger

        messenger, delivery = await start_messenger(app, web_app, telegram_sender=sender)
        tasks.append(delivery)
    runner = web.AppRunner(web_app, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    await web.TCPSite(runner, host="0.0.0.0", port=settings.port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        logger.info("stopping: finishing the updates being handled")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        # A graceful stop, as in polling mode: no new connections, the updates being handled
        # finish and Telegram gets their answers; then the loops finish their rounds.
        await runner.cleanup()
        await _stop(tasks)
        await bot.session.close()
        if messenger is not None:
            await messenger.close()


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
