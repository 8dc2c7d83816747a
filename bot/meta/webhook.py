"""The Messenger webhook on aiohttp: ``GET /messenger`` answers Meta's verification,
``POST /messenger`` takes events.

A POST's `X-Hub-Signature-256` is checked against the raw body before anything is parsed:
missing, 401; wrong, 403, and nothing is read or stored. Each event is handled once (its id
recorded in the turn's own transaction), the events of one person in order, different people
at the same time; Meta hears 200 only once every turn of the request is stored, so a request
that was being handled when the process died is delivered again, not lost.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from aiohttp import web

from bot.meta.mappers import MessengerEvent, events_of
from bot.meta.signature import HEADER, is_valid
from storage.aio import uncancelled

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.meta.outbox import MessengerSender
    from flows.engine import Engine

logger = logging.getLogger(__name__)

PATH = "/messenger"


class MessengerWebhook:
    def __init__(
        self, engine: Engine, sender: MessengerSender, *, app_secret: str, verify_token: str
    ) -> None:
        self._engine = engine
        self._sender = sender
        self._secret = app_secret
        self._verify_token = verify_token
        # Other senders to wake once a request's turns are stored (the Telegram desk's).
        self.wake_also: list[Callable[[], None]] = []

    def mount(self, web_app: web.Application, path: str = PATH) -> None:
        web_app.router.add_get(path, self.verify)
        web_app.router.add_post(path, self.receive)

    async def verify(self, request: web.Request) -> web.Response:
        """Meta's subscription check: echo `hub.challenge` when the token is ours."""
        query = request.query
        if query.get("hub.mode") == "subscribe" and _same(
            query.get("hub.verify_token", ""), self._verify_token
        ):
            return web.Response(text=query.get("hub.challenge", ""))
        logger.warning("messenger webhook verification refused")
        return web.Response(status=403, text="Forbidden")

    async def receive(self, request: web.Request) -> web.Response:
        raw = await request.read()
        header = request.headers.get(HEADER)
        if not header:
            logger.warning("messenger webhook request without a signature refused")
            return web.Response(status=401, text="Unauthorized")
        if not is_valid(raw, header, self._secret):
            logger.warning("messenger webhook request with a wrong signature refused")
            return web.Response(status=403, text="Forbidden")
        try:
            body = json.loads(raw)
        except ValueError:  # includes a body that is not UTF-8
            logger.warning("messenger webhook request refused: not JSON")
            return web.Response(status=400, text="Bad Request")
        # Finished even when the connection goes: a database call cut off half-way can hang
        # its connection; Meta sends the request again anyway when it has no answer.
        await uncancelled(self.handle(events_of(body)))
        return web.Response(text="EVENT_RECEIVED")

    async def handle(self, events: list[MessengerEvent]) -> None:
        """Each person's events in order; different people at once."""
        by_person: dict[str, list[MessengerEvent]] = defaultdict(list)
        for event in events:
            by_person[event.sender].append(event)
        await asyncio.gather(*(self._person(group) for group in by_person.values()))
        if events:
            self._sender.wake()
            for wake in self.wake_also:
                wake()

    async def _person(self, events: list[MessengerEvent]) -> None:
        for event in events:
            unstored = await self._engine.handle(event.inbound, via_outbox=True)
            if unstored:
                await self._sender.send_now(event.sender, unstored)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
