"""A fake Meta Graph API on 127.0.0.1, and a driver that posts signed Messenger webhook events,
for end-to-end tests through the real client and the real webhook server.

The fake serves ``/<version>/me/messages`` and ``/<version>/me/messenger_profile``, records every
call, checks the page token (190 otherwise) and the Send API's limits (text 2,000 characters,
13 quick replies, titles of 20 characters, payloads of 1,000; error 100 otherwise), answers
outside the messaging window as Meta does (code 10, subcode 2018278: a RESPONSE more than 24 h
after the person's last message, a HUMAN_AGENT tag more than 7 days after), and can be told to
fail the next calls (613, 551, 190, 5xx) or to answer too late (a timeout). Its clock is
injectable, for the window. Message ids are long, like Meta's (``m_…``, 120 characters).
Tests wait for what they expect with `wait_for`, never with fixed sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import aiohttp
from aiohttp import web

from bot.meta.signature import HEADER, sign

VERSION: Final = "v21.0"
PAGE_ID: Final = "110000000000001"
MAX_TEXT: Final = 2000
MAX_QUICK_REPLIES: Final = 13
MAX_TITLE: Final = 20
MAX_PAYLOAD: Final = 1000
MESSAGES: Final = {
    4: "Application request limit reached",
    100: "Invalid parameter",
    190: "Error validating access token: Session has expired",
    551: "This person isn't available right now.",
    613: "Calls to this api have exceeded the rate limit.",
    10: "This message is sent outside of allowed window.",
    1: "An unknown error occurred",
}


@dataclass
class Sent:
    recipient: str
    body: dict[str, Any]
    message_id: str
    at: datetime

    @property
    def text(self) -> str:
        return str(self.body.get("message", {}).get("text", ""))

    @property
    def quick_replies(self) -> list[dict[str, Any]]:
        return list(self.body.get("message", {}).get("quick_replies") or [])

    @property
    def tag(self) -> str | None:
        return self.body.get("tag")


@dataclass
class FakeGraph:
    token: str = "PAGE-TOKEN-TEST"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Every call: (path, body, HTTP status answered).
    calls: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    # The person's last message, as Meta knows it (the driver records it).
    last_inbound: dict[str, datetime] = field(default_factory=dict)
    _failures: list[tuple[int, int, int | None, float]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    base: str = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{version}/me/{edge}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    # ----------------------------------------------------------------- scripting

    def fail_next(
        self,
        code: int,
        times: int = 1,
        *,
        status: int = 400,
        subcode: int | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next `times` sends answer Meta's error `code` (with HTTP `status`); a `delay`
        longer than the client's timeout makes them time out."""
        self._failures.extend([(code, status, subcode, delay)] * times)

    def to(self, psid: str) -> list[Sent]:
        return [s for s in self.sent if s.recipient == psid]

    def texts(self, psid: str) -> list[str]:
        return [s.text for s in self.to(psid)]

    def payloads(self, psid: str) -> list[str]:
        """The quick replies' payloads of the last message to the person."""
        sent = self.to(psid)
        return [q.get("payload", "") for q in sent[-1].quick_replies] if sent else []

    async def wait_for(self, condition: Callable[[], bool], seconds: float = 10.0) -> None:
        async def _wait() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(_wait(), seconds)

    def changed(self) -> None:
        self._changed.set()

    # ----------------------------------------------------------------- the API

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        response = await self._answer(request, body)
        self.calls.append((request.path, body, response.status))
        self._changed.set()
        return response

    async def _answer(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        if request.match_info["version"] != VERSION:
            return _error(100, "Unknown path components", status=400)
        if request.query.get("access_token") != self.token:
            return _error(190, MESSAGES[190], status=401)
        edge = request.match_info["edge"]
        if edge == "messenger_profile":
            self.profiles.append(body)
            return web.json_response({"result": "success"})
        if edge != "messages":
            return _error(100, "Unsupported post request", status=400)
        if self._failures:
            code, status, subcode, delay = self._failures.pop(0)
            if delay:
                await asyncio.sleep(delay)
            return _error(code, MESSAGES.get(code, "error"), status=status, subcode=subcode)
        refusal = self._refusal(body)
        if refusal is not None:
            code, subcode, message = refusal
            return _error(code, message, status=400, subcode=subcode)
        recipient = str(body["recipient"]["id"])
        message_id = f"m_{next(self._counter):06d}" + secrets.token_urlsafe(90)[:112]
        self.sent.append(Sent(recipient, body, message_id, self.clock()))
        return web.json_response({"recipient_id": recipient, "message_id": message_id})

    def _refusal(self, body: dict[str, Any]) -> tuple[int, int | None, str] | None:
        """Why the Send API would refuse this message, as (code, subcode, message)."""
        recipient = (body.get("recipient") or {}).get("id")
        message = body.get("message")
        if not recipient or not isinstance(message, dict):
            return 100, None, "param recipient and message are required"
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            return 100, None, "param message must have text"
        if len(text) > MAX_TEXT:
            return 100, None, "param message[text] must be UTF-8 encoded with 2000 characters"
        quick = message.get("quick_replies") or []
        if len(quick) > MAX_QUICK_REPLIES:
            return 100, None, "param message[quick_replies] has too many elements"
        for reply in quick:
            if reply.get("content_type") == "user_phone_number":
                continue
            if reply.get("content_type") != "text":
                return 100, None, "invalid content_type"
            title, payload = reply.get("title") or "", reply.get("payload") or ""
            if not title or len(title) > MAX_TITLE:
                return 100, None, "param message[quick_replies][title] over 20 characters"
            if not payload or len(payload) > MAX_PAYLOAD:
                return 100, None, "param message[quick_replies][payload] must be set"
        return self._window(str(recipient), body)

    def _window(self, recipient: str, body: dict[str, Any]) -> tuple[int, int, str] | None:
        kind = body.get("messaging_type")
        last = self.last_inbound.get(recipient)
        age = self.clock() - last if last else None
        if kind == "RESPONSE":
            if age is None or age > timedelta(hours=24):
                return 10, 2018278, MESSAGES[10]
            return None
        if kind == "MESSAGE_TAG" and body.get("tag") == "HUMAN_AGENT":
            if age is None or age > timedelta(days=7):
                return 10, 2018278, MESSAGES[10]
            return None
        return 100, None, "param messaging_type or tag is not valid"  # type: ignore[return-value]


def _error(code: int, message: str, *, status: int, subcode: int | None = None) -> web.Response:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "A" + secrets.token_hex(8),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return web.json_response({"error": error}, status=status)


# --------------------------------------------------------------------- webhook events


class Messenger:
    """Posts webhook events in Meta's shapes to the bot's `/messenger`, signed with the app
    secret, and records each person's last message with the fake (Meta's window)."""

    def __init__(self, url: str, secret: str, fake: FakeGraph) -> None:
        self.url = url
        self.secret = secret
        self.fake = fake
        self._mids = itertools.count(1)

    def mid(self) -> str:
        """A message id as long as Meta's."""
        return f"m_{next(self._mids):05d}" + "Q" * 118

    def _base(self, psid: str) -> dict[str, Any]:
        return {
            "sender": {"id": psid},
            "recipient": {"id": PAGE_ID},
            "timestamp": int(time.time() * 1000),
        }

    def text(self, psid: str, text: str, *, mid: str | None = None) -> dict[str, Any]:
        return {**self._base(psid), "message": {"mid": mid or self.mid(), "text": text}}

    def quick_reply(self, psid: str, payload: str, title: str = "…") -> dict[str, Any]:
        message = {"mid": self.mid(), "text": title, "quick_reply": {"payload": payload}}
        return {**self._base(psid), "message": message}

    def postback(self, psid: str, payload: str, *, ref: str | None = None) -> dict[str, Any]:
        postback: dict[str, Any] = {"mid": self.mid(), "title": "Get Started", "payload": payload}
        if ref is not None:
            postback["referral"] = {"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}
        return {**self._base(psid), "postback": postback}

    def referral(self, psid: str, ref: str) -> dict[str, Any]:
        referral = {"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}
        return {**self._base(psid), "referral": referral}

    def attachment(self, psid: str, kind: str = "image") -> dict[str, Any]:
        attachment = {"type": kind, "payload": {"url": "https://example.invalid/x"}}
        return {**self._base(psid), "message": {"mid": self.mid(), "attachments": [attachment]}}

    def echo(self, psid: str, text: str) -> dict[str, Any]:
        message = {"mid": self.mid(), "is_echo": True, "app_id": 1, "text": text}
        return {"sender": {"id": PAGE_ID}, "recipient": {"id": psid}, "message": message}

    def delivery(self, psid: str) -> dict[str, Any]:
        return {**self._base(psid), "delivery": {"mids": [self.mid()], "watermark": 1}}

    def read(self, psid: str) -> dict[str, Any]:
        return {**self._base(psid), "read": {"watermark": 1}}

    @staticmethod
    def body(*entries: list[dict[str, Any]]) -> dict[str, Any]:
        """A webhook request: one entry per list of events (Meta batches them)."""
        return {
            "object": "page",
            "entry": [
                {"id": PAGE_ID, "time": int(time.time() * 1000), "messaging": events}
                for events in entries
            ],
        }

    async def post(
        self,
        *events: dict[str, Any],
        escaped: bool = False,
        entries: list[list[dict[str, Any]]] | None = None,
        signature: str | None = None,
        url: str | None = None,
    ) -> int:
        """Post the events (in one entry, or as `entries`), JSON with non-ASCII characters
        as `\\uXXXX` escapes (`escaped`) or raw UTF-8; the HTTP status."""
        body = self.body(*(entries or [list(events)]))
        raw = json.dumps(body, ensure_ascii=escaped).encode()
        return await self.post_raw(raw, signature=signature, url=url, body=body)

    async def post_raw(
        self,
        raw: bytes,
        *,
        signature: str | None = None,
        url: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> int:
        # Meta knows of the person's message before the bot can answer it (the window).
        for entry in (body or {}).get("entry", []):
            for event in entry.get("messaging", []):
                if not ("message" in event and event["message"].get("is_echo")):
                    self.fake.last_inbound[str(event["sender"]["id"])] = self.fake.clock()
        headers = {"Content-Type": "application/json"}
        if signature != "":
            headers[HEADER] = signature or sign(raw, self.secret)
        async with (
            aiohttp.ClientSession() as session,
            session.post(url or self.url, data=raw, headers=headers) as response,
        ):
            await response.read()
            status = response.status
        self.fake.changed()
        return status
