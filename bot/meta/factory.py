"""Messenger wired from settings: the Graph client, the outbox sender, the webhook, and the
page's profile ("Get started", greeting and persistent menu in every language). Mounted next to
`/telegram` by the Telegram webhook server, or served alone when there is no Telegram bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from bot.meta.graph import TIMEOUT_S, GraphClient, GraphError
from bot.meta.mappers import GET_STARTED
from bot.meta.outbox import MessengerSender
from bot.meta.webhook import MessengerWebhook

if TYPE_CHECKING:
    from aiohttp import web

    from bot.app import App
    from bot.telegram.outbox import OutboxSender
    from locales import Locales

logger = logging.getLogger(__name__)

# Meta's locale of each of ours (the persistent menu and the greeting are chosen by the
# person's Facebook language; "default" is for every other one).
META_LOCALES: Final = {
    "cs": "cs_CZ",
    "ru": "ru_RU",
    "uk": "uk_UA",
    "vi": "vi_VN",
    "ar": "ar_AR",
    "mn": "mn_MN",
    "fr": "fr_FR",
    "es": "es_ES",
    "hy": "hy_AM",
}
MENU_COMMANDS: Final = ("menu", "language", "help", "start")
MAX_MENU_TITLE: Final = 30
MAX_GREETING: Final = 160
SHUTDOWN_TIMEOUT_S: Final = 30.0


@dataclass
class Messenger:
    graph: GraphClient
    sender: MessengerSender
    webhook: MessengerWebhook

    async def close(self) -> None:
        await self.graph.close()


def create_messenger(
    app: App, *, graph_timeout: float = TIMEOUT_S, **sender_options: Any
) -> Messenger:
    """Messenger for `app` (its settings must have `messenger_enabled`); `sender_options` go
    to the `MessengerSender` (the tests' clock and short waits)."""
    settings = app.settings
    assert settings.messenger_page_token and settings.messenger_app_secret
    assert settings.messenger_verify_token
    graph = GraphClient(
        settings.meta_graph_api_base,
        settings.meta_graph_api_version,
        settings.messenger_page_token.get_secret_value(),
        timeout=graph_timeout,
    )
    sender = MessengerSender(
        graph,
        app.storage,
        staff_t=app.engine.staff_t,
        human_agent_days=settings.messenger_human_agent_days,
        **sender_options,
    )
    webhook = MessengerWebhook(
        app.engine,
        sender,
        app_secret=settings.messenger_app_secret.get_secret_value(),
        verify_token=settings.messenger_verify_token.get_secret_value(),
    )
    return Messenger(graph, sender, webhook)


def profile(locales: Locales, default_language: str) -> dict[str, Any]:
    """The page's "Get started" button, greeting and persistent menu in every language."""
    menus, greetings = [], []
    for locale, lang in [
        ("default", default_language),
        *((v, k) for k, v in META_LOCALES.items()),
    ]:
        if lang not in locales:
            continue
        t = locales.get(lang)
        menus.append(
            {
                "locale": locale,
                "composer_input_disabled": False,
                "call_to_actions": [
                    {
                        "type": "postback",
                        "title": t(f"command-{c}")[:MAX_MENU_TITLE],
                        "payload": f"/{c}",
                    }
                    for c in MENU_COMMANDS
                ],
            }
        )
        greetings.append({"locale": locale, "text": t("start-greeting")[:MAX_GREETING]})
    return {
        "get_started": {"payload": GET_STARTED},
        "greeting": greetings,
        "persistent_menu": menus,
    }


async def set_up_page(messenger: Messenger, app: App) -> None:
    """Publish the profile; a failure is logged, the bot runs on (the page keeps the last)."""
    try:
        await messenger.graph.set_profile(
            profile(app.knowledge.locales, app.settings.default_language)
        )
    except GraphError as exc:
        logger.warning("messenger profile not set: %s", exc)


async def start_messenger(
    app: App, web_app: web.Application, *, telegram_sender: OutboxSender | None = None
) -> tuple[Messenger, asyncio.Task[None]]:
    """Mount `/messenger` on `web_app`, publish the page profile, start delivering. With the
    Telegram desk's sender, each wakes the other: a Messenger request announced to the desk,
    a caseworker's answer to a person on Messenger, go at once."""
    messenger = create_messenger(app)
    if telegram_sender is not None:
        telegram_sender.wake_also.append(messenger.sender.wake)
        messenger.webhook.wake_also.append(telegram_sender.wake)
    messenger.webhook.mount(web_app)
    await set_up_page(messenger, app)
    return messenger, asyncio.create_task(messenger.sender.run())


async def run_messenger_only(app: App) -> None:
    """A deployment with Messenger and no Telegram bot: `/messenger` and `/healthz` on PORT;
    the desk is `poradna queue …` (requests wait there)."""
    from aiohttp import web

    from bot.upkeep import health_handler, maintain

    web_app = web.Application()
    web_app.router.add_get("/healthz", health_handler(app))
    messenger, delivery = await start_messenger(app, web_app)
    upkeep = asyncio.create_task(maintain(app, messenger.sender))
    runner = web.AppRunner(web_app, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    await web.TCPSite(runner, host="0.0.0.0", port=app.settings.port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
        for task in (delivery, upkeep):
            task.cancel()
        for task in (delivery, upkeep):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await messenger.close()
