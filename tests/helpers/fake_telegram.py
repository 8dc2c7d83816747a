"""A fake Telegram Bot API on 127.0.0.1 for end-to-end tests through the real aiogram client.

It serves ``/bot<token>/<method>``, records every call, feeds ``getUpdates`` from a queue, and can
be told to fail the next calls of a method (429 with retry_after, or 500). Tests wait for what
they expect with `wait_for` (an event set on every call), never with fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

BOT_ID = 424242
BOT_USERNAME = "poradna_test_bot"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    result: Any = None


@dataclass
class FakeTelegram:
    token: str = "42:TEST"
    calls: list[Call] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    pushed: list[dict[str, Any]] = field(default_factory=list)  # every update, as queued
    _failures: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)
    _conditional: list[tuple[str, Callable[[dict[str, Any]], bool], int]] = field(
        default_factory=list
    )
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _runner: web.AppRunner | None = None
    base: str = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/bot{token}/{method}", self._handle)
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
        self, method: str, status: int, times: int = 1, retry_after: int | None = None
    ) -> None:
        self._failures.setdefault(method, []).extend([(status, retry_after)] * times)

    def fail_when(
        self, method: str, condition: Callable[[dict[str, Any]], bool], status: int
    ) -> None:
        """Fail the next call of `method` whose parameters meet `condition`."""
        self._conditional.append((method, condition, status))

    def user(self, user_id: int, lang: str | None = "en", name: str = "Migrant") -> dict[str, Any]:
        data: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": name}
        if lang:
            data["language_code"] = lang
        return data

    def send(
        self,
        user_id: int,
        text: str | None = None,
        *,
        lang: str | None = "en",
        chat: dict[str, Any] | None = None,
        reply_to: int | None = None,
        **extra: Any,
    ) -> int:
        """Queue a message update from a user (in their private chat unless `chat` is given)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat or {"id": user_id, "type": "private", "first_name": "Migrant"},
            "from": self.user(user_id, lang),
            **extra,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split(" ", 1)[0]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": len(command)}
                ]
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to,
                "date": int(time.time()),
                "chat": message["chat"],
                "text": "...",
            }
        return self.push({"message": message})

    def click(
        self,
        user_id: int,
        payload: str,
        *,
        lang: str | None = "en",
        chat: dict[str, Any] | None = None,
        message_id: int = 1,
    ) -> int:
        """Queue a button press."""
        return self.push(
            {
                "callback_query": {
                    "id": f"cq{next(self._ids)}",
                    "from": self.user(user_id, lang),
                    "chat_instance": "ci",
                    "data": payload,
                    "message": {
                        "message_id": message_id,
                        "date": int(time.time()),
                        "chat": chat
                        or {"id": user_id, "type": "private", "first_name": "Migrant"},
                        "text": "...",
                    },
                }
            }
        )

    def push(self, update: dict[str, Any], update_id: int | None = None) -> int:
        update_id = update_id if update_id is not None else next(self._ids)
        self._updates.append({"update_id": update_id, **update})
        self.pushed.append(self._updates[-1])
        self._changed.set()
        return update_id

    # ----------------------------------------------------------------- reading

    def sent(self, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == "sendMessage"
            and c.result is not None
            and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    def media(self, chat_id: int | None = None) -> list[Call]:
        """Photos and documents the bot sent (by file id), to a chat or to any."""
        return [
            c
            for c in self.calls
            if c.method in MEDIA_METHODS
            and c.result is not None
            and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    def texts(self, chat_id: int) -> list[str]:
        return [c.params["text"] for c in self.sent(chat_id)]

    def buttons(self, chat_id: int) -> list[tuple[str, str]]:
        """(label, callback_data) of the inline buttons of the last message with buttons."""
        for call in reversed(self.sent(chat_id)):
            markup = call.params.get("reply_markup")
            if markup and "inline_keyboard" in markup:
                return [
                    (b["text"], b["callback_data"])
                    for row in markup["inline_keyboard"]
                    for b in row
                ]
        return []

    async def wait_for(self, condition: Callable[[], bool], seconds: float = 10.0) -> None:
        async def _wait() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(_wait(), seconds)

    # ----------------------------------------------------------------- the API

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = dict(await request.post()) if request.can_read_body else {}
        if request.content_type == "application/json":
            params = await request.json()
        params = {k: _decode(v) for k, v in params.items()}
        call = Call(method, params)
        self.calls.append(call)
        failures = self._failures.get(method)
        conditional = next((f for f in self._conditional if f[0] == method and f[1](params)), None)
        if conditional is not None:
            self._conditional.remove(conditional)
            failures = [(conditional[2], None)]
        if failures:
            status, retry_after = failures.pop(0)
            self._changed.set()
            body: dict[str, Any] = {
                "ok": False,
                "error_code": status,
                "description": "Too Many Requests" if status == 429 else "Internal Server Error",
            }
            if retry_after is not None:
                body["parameters"] = {"retry_after": retry_after}
            return web.json_response(body, status=status)
        refusal = _refusal(method, params)
        if refusal is not None:
            self._changed.set()
            return web.json_response(
                {"ok": False, "error_code": 400, "description": f"Bad Request: {refusal}"},
                status=400,
            )
        if method == "getUpdates":
            result: Any = await self._get_updates(params)
        else:
            result = self._result(method, params)
        call.result = result
        self._changed.set()
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 1.0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        return list(self._updates)

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Poradna",
                "username": BOT_USERNAME,
            }
        if method in ("sendMessage", "editMessageText", *MEDIA_METHODS):
            chat_id = int(params["chat_id"])
            message: dict[str, Any] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            }
            if method == "sendPhoto":
                size = {"file_id": params["photo"], "file_unique_id": "u", "width": 1, "height": 1}
                message["photo"] = [size]
            elif method == "sendDocument":
                message["document"] = {"file_id": params["document"], "file_unique_id": "u"}
            else:
                message["text"] = params.get("text", "")
            if params.get("caption"):
                message["caption"] = params["caption"]
            return message
        return True


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# ----------------------------------------------------------------- text as Telegram checks it

MAX_MESSAGE_UTF16: Final = 4096
MAX_CAPTION_UTF16: Final = 1024
# Sending a file Telegram already has, by its file id.
MEDIA_METHODS: Final = ("sendPhoto", "sendDocument")
# The tags Telegram's HTML parse mode knows (https://core.telegram.org/bots/api#html-style).
HTML_TAGS: Final = frozenset(
    [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    ]
)
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")


def utf16_length(text: str) -> int:
    """What Telegram counts: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """The visible text of `text` in HTML parse mode, or ValueError with Telegram's reason.

    Like Telegram: only its tags, every tag closed in order, `<` never bare; known entities
    are decoded (an `&` that starts none is kept as it is)."""
    plain: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            entity = _ENTITY.match(text, i)
            if entity:
                plain.append(html.unescape(entity.group(0)))
                i = entity.end()
                continue
            plain.append(char)
            i += 1
            continue
        if char != "<":
            plain.append(char)
            i += 1
            continue
        end = text.find(">", i)
        if end < 0:
            raise ValueError(f"can't parse entities: Unclosed start tag at byte offset {i}")
        closing = text.startswith("</", i)
        name = _TAG_NAME.match(text, i + (2 if closing else 1)).group(0).lower()  # type: ignore[union-attr]
        if not name:
            raise ValueError(f"can't parse entities: Empty tag name at byte offset {i}")
        if name not in HTML_TAGS:
            raise ValueError(
                f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {i}'
            )
        if closing:
            if not open_tags or open_tags[-1] != name:
                raise ValueError(
                    f"can't parse entities: Unmatched end tag at byte offset {i}, expected \""
                    f'{open_tags[-1] if open_tags else ""}", found "{name}"'
                )
            open_tags.pop()
        else:
            open_tags.append(name)
        i = end + 1
    if open_tags:
        raise ValueError(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{open_tags[-1]}"'
        )
    return "".join(plain)


def _refusal(method: str, params: dict[str, Any]) -> str | None:
    """Why Telegram would refuse this sendMessage / editMessageText (or a photo's or
    document's caption), or None."""
    if method in MEDIA_METHODS:
        return _caption_refusal(params)
    if method not in ("sendMessage", "editMessageText"):
        return None
    text = str(params.get("text", ""))
    if params.get("parse_mode") == "HTML":
        try:
            text = parse_html(text)
        except ValueError as exc:
            return str(exc)
    if not text.strip():
        return "message text is empty"
    if utf16_length(text) > MAX_MESSAGE_UTF16:
        return "message is too long"
    return None


def _caption_refusal(params: dict[str, Any]) -> str | None:
    file_id = params.get("photo") or params.get("document")
    if not isinstance(file_id, str) or not file_id.strip():
        return "wrong file identifier/HTTP URL specified"
    caption = str(params.get("caption") or "")
    if params.get("parse_mode") == "HTML":
        try:
            caption = parse_html(caption)
        except ValueError as exc:
            return str(exc)
    if utf16_length(caption) > MAX_CAPTION_UTF16:
        return "message caption is too long"
    return None
