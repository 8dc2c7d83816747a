"""The Telegram bot against the fake Bot API, and the people in its tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from bot.app import App, build_app
from bot.telegram.factory import (
    bootstrap_staff,
    create_bot,
    create_dispatcher,
    poll,
    set_up_bot,
)
from bot.telegram.outbox import OutboxSender
from flows import payloads as pl
from flows.payloads import Action
from tests.conftest import make_settings
from tests.helpers.fake_telegram import FakeTelegram

MIGRANT = 1001


OTHER_MIGRANT = 1002


CASEWORKER = 501


COLLEAGUE = 502


STRANGER = 999


DESK = -100777


DESK_CHAT = {"id": DESK, "type": "supergroup", "title": "Desk"}


@dataclass
class Harness:
    fake: FakeTelegram
    app: App
    sender: OutboxSender
    dispatcher: Dispatcher
    bot: Bot

    def texts(self, chat: int) -> list[str]:
        return self.fake.texts(chat)

    async def wait_text(self, chat: int, part: str, count: int = 1) -> str:
        def found() -> list[str]:
            return [t for t in self.texts(chat) if part in t]

        await self.fake.wait_for(lambda: len(found()) >= count)
        return found()[-1]

    async def redeliver(self, update_id: int) -> None:
        """Telegram sends an update again (the answer to it was lost, or the process died
        before confirming it): fed to the dispatcher as a webhook request is, or a new
        process's first getUpdates. (The fake's getUpdates never goes back below the offset.)"""
        update = next(u for u in self.fake.pushed if u["update_id"] == update_id)
        # Once its first processing is over: a caseworker's answer is sent before the update
        # is recorded, and Telegram waits for that (webhook: the answer; polling: the offset).
        for _ in range(200):
            async with self.app.storage.begin() as unit:
                if await unit.updates.seen("telegram", update_id):
                    break
            await asyncio.sleep(0.05)
        parsed = Update.model_validate(update, context={"bot": self.bot})
        await self.dispatcher.feed_update(self.bot, parsed)

    def answers(self) -> list[dict]:
        """Answers to button presses that said something (desk buttons)."""
        return [
            c.params
            for c in self.fake.calls
            if c.method == "answerCallbackQuery" and c.params.get("text")
        ]


@contextlib.asynccontextmanager
async def running_bot(database_url: str) -> AsyncIterator[Harness]:
    """The bot polling the fake Bot API, its outbox delivering, a desk group and two staff."""
    fake = FakeTelegram()
    await fake.start()
    settings = make_settings(
        database_url,
        telegram_bot_token=fake.token,
        telegram_api_base=fake.base,
        staff_chat_id=DESK,
        admin_telegram_ids=f"{CASEWORKER}",
        staff_language="en",
    )
    app = await build_app(settings, migrate=True)
    async with app.storage.begin() as unit:
        await unit.staff.add("telegram", str(COLLEAGUE), "Olena", ("uk",))
    await bootstrap_staff(app)
    bot = create_bot(settings)
    sender = OutboxSender(bot, app.storage, DESK, staff_t=app.engine.staff_t, idle_seconds=0.2)
    dispatcher = create_dispatcher(app, sender)
    await set_up_bot(bot, app.knowledge.locales, "en")
    polling = asyncio.create_task(
        poll(dispatcher, bot, handle_signals=False, polling_timeout=1, close_bot_session=False)
    )
    delivery = asyncio.create_task(sender.run())
    try:
        yield Harness(fake, app, sender, dispatcher, bot)
    finally:
        await dispatcher.stop_polling()
        for task in (polling, delivery):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await bot.session.close()
        await app.close()
        await fake.stop()


async def _request_callback(h: Harness, user: int = MIGRANT, lang: str = "ru") -> str:
    """A migrant goes from /start to a stored callback request; returns the done message."""
    f = h.fake
    f.send(user, "/start", lang=lang)
    await h.wait_text(user, "Poradna")
    f.click(user, pl.make(Action.LANG, lang), lang=lang)
    await f.wait_for(lambda: len(f.buttons(user)) >= 6)
    f.click(user, pl.make(Action.PERSON), lang=lang)
    await f.wait_for(
        lambda: any("request_contact" in str(c.params.get("reply_markup")) for c in f.sent(user))
    )
    f.send(
        user,
        None,
        lang=lang,
        contact={"phone_number": "+420777123456", "first_name": "M", "user_id": user},
    )
    await f.wait_for(lambda: any(p == pl.make(Action.TIME, "morning") for _, p in f.buttons(user)))
    f.click(user, pl.make(Action.TIME, "morning"), lang=lang)
    ask = h.app.knowledge.locales.get(lang)("callback-question")
    await f.wait_for(
        lambda: (
            any(p == pl.make(Action.KEEP_QUESTION) for _, p in f.buttons(user))
            or ask in h.texts(user)
        )
    )
    if any(p == pl.make(Action.KEEP_QUESTION) for _, p in f.buttons(user)):
        f.click(user, pl.make(Action.KEEP_QUESTION), lang=lang)
    else:
        f.send(user, "Мне нужна помощь с письмом", lang=lang)
    await f.wait_for(
        lambda: any(p == pl.yes_no(Action.CONSENT, yes=True) for _, p in f.buttons(user))
    )
    f.click(user, pl.yes_no(Action.CONSENT, yes=True), lang=lang)
    return await h.wait_text(user, "R-")
